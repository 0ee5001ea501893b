#!/usr/bin/env bash
# What this checkout needs on this machine, installed when missing; `npm start` and `npm test` run
# it first, and it takes a second once everything is there. The Debian packages the local stack
# runs (as root, or through sudo; Prometheus and its Alertmanager among them), python3-venv for the
# API fuzzer, buildah and debootstrap, which build and run our images without a Docker engine
# (scripts/images/build.sh); then the npm
# dependencies. Go, Rust and Node come with the machine; MinIO and InfluxDB 2 are built by
# `stack.sh up`, the test tools (Helm, the control plane, schemathesis) by `stack.sh tools`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
# shellcheck source=stack/versions.env
source "$here/stack/versions.env"

packages=(postgresql mosquitto mosquitto-clients prometheus prometheus-alertmanager curl ca-certificates python3-venv
  buildah debootstrap debian-archive-keyring)
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)

# Mosquitto comes from bookworm-backports (bookworm's own 2.0.11 loses queued shared-subscription
# messages after a restart and ignores Receive Maximum), on the same mirror as bookworm itself, and
# pinned to one release so that nothing else is taken from backports.
backports=/etc/apt/sources.list.d/iot-meter-bookworm-backports.sources
pin=/etc/apt/preferences.d/iot-meter-mosquitto
if [ ! -f "$backports" ] || ! grep -qF "$MOSQUITTO_DEBIAN_VERSION" "$pin" 2>/dev/null; then
  mirror=$(apt-cache policy | awk '$3 == "bookworm/main" { print $2; exit }')
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "${mirror:-http://deb.debian.org/debian}" | "${sudo[@]}" tee "$backports" >/dev/null
  printf 'Package: mosquitto mosquitto-clients libmosquitto1\nPin: version %s\nPin-Priority: 1001\n' \
    "$MOSQUITTO_DEBIAN_VERSION" | "${sudo[@]}" tee "$pin" >/dev/null
  "${sudo[@]}" apt-get update -qq
fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
for pkg in mosquitto mosquitto-clients; do
  [ "$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null)" = "$MOSQUITTO_DEBIAN_VERSION" ] ||
    [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  # Debian's postinst scripts would start system services where systemd runs; the stack runs its own.
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

for tool in go cargo node npm; do
  command -v "$tool" >/dev/null || { echo "setup: $tool is required and not installed" >&2; exit 1; }
done
node -e 'const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 20 || (major === 20 && minor < 19)) { console.error("setup: Node >= 20.19 is required"); process.exit(1); }'

# npm writes its own copy of the lock file into node_modules; an older copy means the lock file
# changed since (a pull), and `npm ci` installs exactly what it says.
if [ ! -f "$root/node_modules/.package-lock.json" ] ||
  [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  echo "setup: installing npm dependencies"
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
fi
