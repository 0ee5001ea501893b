#!/usr/bin/env bash
# Times `npm start` as a new user meets it: a fresh clone of this checkout's HEAD, started with
# `npm start`, until the banner and until the API serves the first point of simulated telemetry; then
# Ctrl-C. With --cold, with empty build, Go, cargo and npm caches as well (the Debian packages stay:
# scripts/setup.sh finds them installed). Runs on its own stack and ports, so a running one is left be.
#   bash scripts/start/first-data.sh [--cold]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d /var/tmp/iot-meter-first-data.XXXXXX)
chmod 755 "$work"
pid=
cleanup() {
  set +e
  # Ctrl-C as a terminal sends it: to the whole process group npm start leads.
  [ -n "$pid" ] && kill -INT -- "-$pid" 2>/dev/null && wait "$pid"
  IOT_STACK_DIR=$work/stack IOT_STACK_PORT_OFFSET=470 bash "$work/iot-meter/scripts/stack/stack.sh" down \
    >/dev/null 2>&1 || true
  # Go keeps its module cache read-only.
  chmod -R u+w "$work" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

export IOT_STACK_DIR=$work/stack IOT_STACK_PORT_OFFSET=470
if [ "${1:-}" = --cold ]; then
  export IOT_METER_CACHE=$work/cache GOPATH=$work/go GOCACHE=$work/go-build CARGO_HOME=$work/cargo \
    npm_config_cache=$work/npm
  # rustup's cargo proxy lives in the usual CARGO_HOME; only the registry and builds start empty.
  export PATH=$PATH:$HOME/.cargo/bin
fi
git clone -q "$root" "$work/iot-meter"
cd "$work/iot-meter"
api=http://127.0.0.1:18594
started=$SECONDS
setsid npm start -- --devices 2 --send-interval 1 --api-port 18594 --collector-port 18595 \
  >"$work/start.log" 2>&1 &
pid=$!

# A cold start builds for tens of minutes on a small machine; past an hour something is wrong.
deadline=$((SECONDS + 3600))
alive() {
  kill -0 "$pid" 2>/dev/null || { tail -n 40 "$work/start.log"; echo "first-data: npm start exited" >&2; exit 1; }
  [ $SECONDS -lt $deadline ] || { tail -n 40 "$work/start.log"; echo "first-data: no data within an hour" >&2; exit 1; }
}
key=
until [ -n "$key" ]; do
  alive
  key=$(sed -n 's/^ *admin key *\([0-9a-f]\{48\}\)$/\1/p' "$work/start.log")
  sleep 1
done
banner=$((SECONDS - started))
until curl -fs -m 5 -H "Authorization: Bearer $key" "$api/api/devices/sim-001/metrics?start=-5m" | grep -q '"value"'; do
  alive
  sleep 0.5
done
echo "first-data: ${1:-warm}: banner after ${banner} s, first point served after $((SECONDS - started)) s"
