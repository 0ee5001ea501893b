#!/usr/bin/env bash
# The local stack: the real PostgreSQL, Mosquitto, MinIO, InfluxDB 2 and Prometheus on loopback,
# and the tools only the tests use.
#   stack.sh up|down|status|env      the whole stack (`up` builds the servers it starts, mc and
#                                    the ingest benchmark's Telegraf)
#   stack.sh tools                   builds the test tools: helm, the Kubernetes control plane
#                                    (etcd, kube-*, kubectl, kwok) and schemathesis
#   stack.sh stop|kill|start NAME    one server: SIGTERM (graceful), SIGKILL, or start if down
#   stack.sh mosquitto-release V     path of Debian's Mosquitto release V, fetched into the cache;
#                                    IOT_STACK_MOSQUITTO_BIN=that path runs a stack's broker with it
#
# `up` reuses servers that already answer, so it is idempotent and cheap when the stack runs. Fault
# tests run a private second stack (IOT_STACK_DIR and IOT_STACK_PORT_OFFSET) whose servers they kill.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# The stores' accounts are the chart's (its policies, its provisioning), so the stack runs what the chart does.
charts_files=$repo/charts/iot-meter/files
# shellcheck source=versions.env
source "$here/versions.env"
# shellcheck source=build.sh
source "$here/build.sh"

# World-traversable, because PostgreSQL and Mosquitto refuse to run as root and run as their own
# users when the stack is started by root.
state=${IOT_STACK_DIR:-/var/tmp/iot-meter-stack-$(id -un)}

offset=${IOT_STACK_PORT_OFFSET:-0}
PG_PORT=$((15432 + offset))
MQTT_PORT=$((11883 + offset))
MQTT_SERVICE_PORT=$((11884 + offset))
MINIO_PORT=$((19000 + offset))
MINIO_CONSOLE_PORT=$((19001 + offset))
INFLUX_PORT=$((18086 + offset))
PROMETHEUS_PORT=$((19090 + offset))
ALERTMANAGER_PORT=$((19093 + offset))
# Alertmanager's one webhook receiver: a test listens there to see what Alertmanager notifies.
ALERT_RECEIVER_PORT=$((19094 + offset))

# Local development credentials: loopback only, never used by the chart.
PG_USER=iot
PG_PASSWORD=iot-dev-password
PG_DATABASE=iot
S3_ACCESS_KEY=iot-meter
S3_SECRET_KEY=iot-meter-dev-secret
S3_BUCKET=iot-data
INFLUX_ADMIN_PASSWORD=iot-meter-dev-password
INFLUX_TOKEN=iot-meter-dev-token
INFLUX_ORG=iot-org
INFLUX_BUCKET=iot-metrics
# Each service's own login, with only the rights its job needs (docs/security.md, "Least privilege
# in the stores"); the ones above are the owner's and the stores' admins, for migrations and setup.
PG_COLLECTOR_USER=iot_collector
PG_COLLECTOR_PASSWORD=iot-collector-dev-password
PG_DEVICE_MANAGER_USER=iot_device_manager
PG_DEVICE_MANAGER_PASSWORD=iot-device-manager-dev-password
S3_COLLECTOR_SECRET_KEY=iot-collector-dev-secret
S3_DEVICE_MANAGER_SECRET_KEY=iot-device-manager-dev-secret
# The broker's service accounts (docs/security.md §1) and the stack's own test client, which may
# publish as any device and read everything: tests send what no device's own account could (another
# device's topics, hostile topic names the collector must still quarantine). The chart has no such
# account. A password already in the stack's folder wins (a test may set the chart's there).
MQTT_SERVICE_ACCOUNTS=(collector device-manager broker-exporter test-client)

SERVERS=(postgres mosquitto minio influxdb prometheus alertmanager)
START_TIMEOUT=${IOT_STACK_START_TIMEOUT:-60}

die() {
  echo "stack: $*" >&2
  exit 1
}

pg_bindir() {
  local dir=/usr/lib/postgresql/$POSTGRES_MAJOR/bin
  [ -x "$dir/postgres" ] || die "PostgreSQL $POSTGRES_MAJOR is not installed: run 'bash scripts/setup.sh'"
  echo "$dir"
}

# Runs a command as a server's own user when we are root (the server refuses or drops root).
as_user() {
  local user=$1
  shift
  if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

own() {
  local user=$1 dir=$2
  if [ "$(id -u)" = 0 ]; then chown -R "$user:" "$dir"; fi
}

# --- health checks: each succeeds only when the server answers its protocol -----------------------

healthy_postgres() {
  "$(pg_bindir)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"
}
healthy_mosquitto() {
  timeout 3 mosquitto_sub -h 127.0.0.1 -p "$MQTT_SERVICE_PORT" -u @test-client -P "$(mqtt_password test-client)" \
    -t '$SYS/broker/version' -C 1 -W 2 >/dev/null 2>&1
}
healthy_minio() {
  curl -fs -o /dev/null "http://127.0.0.1:$MINIO_PORT/minio/health/live"
}
healthy_influxdb() {
  curl -fs "http://127.0.0.1:$INFLUX_PORT/health" | grep -q '"status": *"pass"'
}
healthy_alertmanager() {
  curl -fs -o /dev/null "http://127.0.0.1:$ALERTMANAGER_PORT/-/ready"
}

healthy_prometheus() {
  curl -fs -o /dev/null "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"
}

# --- start-up -------------------------------------------------------------------------------------

# Starts "$@" detached with its output in <server>/log, then waits for its health check; a server
# that does not answer in time fails `up` with its log tail.
launch() {
  local name=$1
  shift
  (setsid "$@" >>"$state/$name/log" 2>&1 </dev/null & echo $! >"$state/$name/pid")
  wait_healthy "$name"
}

wait_healthy() {
  local name=$1 deadline=$((SECONDS + START_TIMEOUT))
  until "healthy_$name"; do
    if [ $SECONDS -ge $deadline ]; then
      echo "stack: $name did not answer within ${START_TIMEOUT}s; last lines of $state/$name/log:" >&2
      tail -n 40 "$state/$name/log" >&2 || true
      exit 1
    fi
    sleep 0.3
  done
}

start_postgres() {
  local bin dir=$state/postgres/data
  bin=$(pg_bindir)
  if [ ! -s "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    chmod 700 "$dir"
    own postgres "$dir"
    as_user postgres "$bin/initdb" -D "$dir" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >>"$state/postgres/log"
  fi
  touch "$state/postgres/log"
  own postgres "$state/postgres/log"
  # pg_ctl daemonises and keeps its own pid file; the socket lives in the data folder.
  as_user postgres "$bin/pg_ctl" -D "$dir" -l "$state/postgres/log" -w -t "$START_TIMEOUT" start \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $dir" >/dev/null ||
    { tail -n 40 "$state/postgres/log" >&2; die "postgres did not start"; }
  wait_healthy postgres
  local psql=("$bin/psql" -h "$dir" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
  if [ "$(as_user postgres "${psql[@]}" -c "select 1 from pg_roles where rolname = '$PG_USER'")" != 1 ]; then
    as_user postgres "${psql[@]}" -c "create role $PG_USER login createdb password '$PG_PASSWORD'"
    as_user postgres "${psql[@]}" -c "create database $PG_DATABASE owner $PG_USER"
  fi
}

# The services' PostgreSQL logins (members of the group roles the migrations grant to) and InfluxDB
# tokens, made by the chart's own provisioning, run from the sources: PostgreSQL's superuser over
# the socket (so the migrations' owner needs no CREATEROLE), the tokens kept in files. On every
# `up`, so a stack that was already running gets them too.
provision_accounts() {
  (cd "$repo" && PROVISION_DATABASE_URL=$(pg_superuser_url) \
    COLLECTOR_DATABASE_URL="$(database_url "$PG_COLLECTOR_USER" "$PG_COLLECTOR_PASSWORD")" \
    DEVICE_MANAGER_DATABASE_URL="$(database_url "$PG_DEVICE_MANAGER_USER" "$PG_DEVICE_MANAGER_PASSWORD")" \
    INFLUX_URL="http://127.0.0.1:$INFLUX_PORT" INFLUX_TOKEN="$INFLUX_TOKEN" INFLUX_ORG="$INFLUX_ORG" \
    INFLUX_BUCKET="$INFLUX_BUCKET" INFLUX_TOKENS_DIR="$state/influxdb" LOG_LEVEL=warn \
    node --conditions=iot-meter-source --import tsx services/device-manager/src/bin/provision-store-accounts.ts) ||
    die "could not provision the services' accounts in PostgreSQL and InfluxDB"
  # Tests drop their databases `with (force)`, past the services' connections still open.
  as_user postgres "$(pg_bindir)/psql" -h "$state/postgres/data" -p "$PG_PORT" -U postgres -qtA \
    -c "set client_min_messages = warning" -c "grant pg_signal_backend to $PG_USER"
}

database_url() {
  echo "postgresql://$1:$2@127.0.0.1:$PG_PORT/$PG_DATABASE"
}

# Over the socket, where the superuser is trusted (it has no password): the stack's provisioning and
# the tests of it.
pg_superuser_url() {
  echo "postgresql://postgres@localhost:$PG_PORT/$PG_DATABASE?host=$state/postgres/data"
}

mqtt_password() {
  cat "$state/mosquitto/service-accounts/$1" 2>/dev/null || true
}

# The password file with the service accounts from their folder on each start; once running,
# `npm start`'s broker account sync owns it and adds the devices (it keeps the file's owner).
write_mqtt_accounts() {
  local dir=$state/mosquitto accounts=$state/mosquitto/service-accounts name
  mkdir -p "$accounts"
  chmod 700 "$accounts"
  for name in "${MQTT_SERVICE_ACCOUNTS[@]}"; do
    [ -s "$accounts/$name" ] || (umask 077 && echo "iot-meter-dev-$name" >"$accounts/$name")
  done
  (umask 077 && : >"$dir/passwd.new")
  for name in "$accounts"/*; do
    mosquitto_passwd -b "$dir/passwd.new" "@${name##*/}" "$(cat "$name")"
  done
  mv "$dir/passwd.new" "$dir/passwd"
  { cat "$repo/charts/iot-meter/charts/mosquitto/files/acl.conf"
    printf '\n# The local stack only: tests publish as any device and watch everything.\n'
    printf 'user @test-client\ntopic readwrite iot/#\ntopic read $SYS/#\n'
  } >"$dir/acl.conf"
  chmod 600 "$dir/passwd" "$dir/acl.conf"
}

start_mosquitto() {
  local dir=$state/mosquitto
  mkdir -p "$dir/data"
  write_mqtt_accounts
  sed -e "s|@DEVICE_PORT@|$MQTT_PORT|" -e "s|@SERVICE_PORT@|$MQTT_SERVICE_PORT|" -e "s|@DIR@|$dir|" \
    "$here/mosquitto.conf" >"$dir/mosquitto.conf"
  # The chart's crash-safe persistence: the database is written after every change (costly with a backlog).
  if [ "${IOT_STACK_MOSQUITTO_CRASH_SAFE:-0}" = 1 ]; then
    printf 'autosave_on_changes true\nautosave_interval 1\n' >>"$dir/mosquitto.conf"
  fi
  # Settings of a test's own broker (later lines override the file's).
  [ -z "${IOT_STACK_MOSQUITTO_EXTRA:-}" ] || printf '%s\n' "$IOT_STACK_MOSQUITTO_EXTRA" >>"$dir/mosquitto.conf"
  own mosquitto "$dir"
  launch mosquitto "${IOT_STACK_MOSQUITTO_BIN:-mosquitto}" -c "$dir/mosquitto.conf"
}

start_minio() {
  local bin
  bin=$(build_minio)
  mkdir -p "$state/minio/data"
  launch minio env MINIO_ROOT_USER="$S3_ACCESS_KEY" MINIO_ROOT_PASSWORD="$S3_SECRET_KEY" \
    MINIO_UPDATE=off "$bin" server "$state/minio/data" --quiet \
    --address "127.0.0.1:$MINIO_PORT" --console-address "127.0.0.1:$MINIO_CONSOLE_PORT"
}

# The archive bucket (the collector may not create buckets) and each service's user, with the
# chart's policy for it (charts/iot-meter/files/s3-policies: the collector puts objects under raw/
# and quarantine/, the API reads them; both may see that the bucket exists). Idempotent.
provision_minio() {
  local mc service policies=$charts_files/s3-policies
  mc=$(build_mc)
  mc_stack "$mc" mb --ignore-existing "stack/$S3_BUCKET" >/dev/null
  for service in collector device-manager; do
    sed "s/@BUCKET@/$S3_BUCKET/g" "$policies/$service.json" >"$state/minio/$service-policy.json"
    mc_stack "$mc" admin policy create stack "iot-meter-$service" "$state/minio/$service-policy.json" >/dev/null
    mc_stack "$mc" admin user add stack "iot-meter-$service" "$(s3_secret_of "$service")" >/dev/null
    mc_stack "$mc" admin policy attach stack "iot-meter-$service" --user "iot-meter-$service" >/dev/null
  done
}

s3_secret_of() {
  if [ "$1" = collector ]; then echo "$S3_COLLECTOR_SECRET_KEY"; else echo "$S3_DEVICE_MANAGER_SECRET_KEY"; fi
}

# mc with this stack's MinIO as the alias `stack`, as its root user.
mc_stack() {
  local mc=$1
  shift
  MC_CONFIG_DIR=$state/minio/mc MC_HOST_stack="http://$S3_ACCESS_KEY:$S3_SECRET_KEY@127.0.0.1:$MINIO_PORT" \
    "$mc" --quiet "$@"
}

start_influxdb() {
  local bin dir=$state/influxdb
  bin=$(build_influxd)
  mkdir -p "$dir/data"
  launch influxdb "$bin" --bolt-path "$dir/data/influxd.bolt" --engine-path "$dir/data/engine" \
    --sqlite-path "$dir/data/influxd.sqlite" --http-bind-address "127.0.0.1:$INFLUX_PORT" \
    --reporting-disabled --ui-disabled --log-level error
  onboard_influxdb
}

# First start only: create the org, bucket, admin user and the operator token through the HTTP API.
onboard_influxdb() {
  local url=http://127.0.0.1:$INFLUX_PORT
  if curl -fsS "$url/api/v2/setup" | grep -q '"allowed": *true'; then
    curl -fsS -o /dev/null -X POST "$url/api/v2/setup" -H 'content-type: application/json' \
      -d "{\"username\":\"admin\",\"password\":\"$INFLUX_ADMIN_PASSWORD\",\"org\":\"$INFLUX_ORG\",\"bucket\":\"$INFLUX_BUCKET\",\"token\":\"$INFLUX_TOKEN\"}" ||
      die "influxdb onboarding failed"
  fi
  curl -fsS -o /dev/null -H "Authorization: Token $INFLUX_TOKEN" "$url/api/v2/buckets?name=$INFLUX_BUCKET" ||
    die "influxdb does not accept the stack's token; remove $state/influxdb to start it afresh"
}

start_prometheus() {
  local dir=$state/prometheus
  mkdir -p "$dir/data" "$dir/targets"
  sed -e "s|@TARGETS_DIR@|$dir/targets|" "$here/prometheus.yml" >"$dir/prometheus.yml"
  launch prometheus prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --web.enable-lifecycle
}

start_alertmanager() {
  local dir=$state/alertmanager
  mkdir -p "$dir/data"
  sed -e "s|@RECEIVER_URL@|http://127.0.0.1:$ALERT_RECEIVER_PORT/alerts|" "$here/alertmanager.yml" >"$dir/alertmanager.yml"
  launch alertmanager prometheus-alertmanager --config.file="$dir/alertmanager.yml" --storage.path="$dir/data" \
    --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" --cluster.listen-address=""
}

check_prerequisites() {
  local missing=()
  for cmd in mosquitto mosquitto_sub prometheus prometheus-alertmanager curl go cargo cc runuser; do
    command -v "$cmd" >/dev/null || missing+=("$cmd")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: run 'bash scripts/setup.sh'"
  pg_bindir >/dev/null
  # `mosquitto -h` exits non-zero, so capture its text before matching.
  local text
  if [ -z "${IOT_STACK_MOSQUITTO_BIN:-}" ]; then
    text=$(mosquitto -h 2>&1 || true)
    local wanted=${MOSQUITTO_DEBIAN_VERSION%%-*}
    [[ $text == *"mosquitto version $wanted"$'\n'* ]] ||
      die "Mosquitto $wanted is required (found: ${text%%$'\n'*}): run 'bash scripts/setup.sh'"
  fi
  text=$(prometheus --version 2>&1 || true)
  [[ $text == *"version $PROMETHEUS_MAJOR."* ]] || die "Prometheus $PROMETHEUS_MAJOR.x is required"
}

cmd_up() {
  check_prerequisites
  mkdir -p "$state"
  chmod 755 "$state"
  # Build first, so a slow first build never counts against a server's start timeout.
  build_minio >/dev/null
  build_influxd >/dev/null
  build_mc >/dev/null
  build_telegraf >/dev/null
  # A fresh broker database on every `up`: tests and benchmarks interrupted mid-run leave persistent
  # sessions behind (a collector's lives for a week), and each would queue every message every later
  # test publishes. Restarting one server (`start mosquitto`) keeps its database.
  if ! healthy_mosquitto; then rm -f "$state/mosquitto/data/mosquitto.db"; fi
  for name in "${SERVERS[@]}"; do
    mkdir -p "$state/$name"
    cmd_start "$name"
  done
  # The services' own least-privilege accounts in the stores (idempotent).
  provision_accounts
  provision_minio
}

# The vitest global setup asks for these; `npm start` never needs them.
cmd_tools() {
  build_helm >/dev/null
  build_etcd >/dev/null
  build_kubernetes >/dev/null
  build_kwok >/dev/null
  build_schemathesis >/dev/null
}

# --- stop and report ------------------------------------------------------------------------------

stop_pid() {
  local name=$1 pidfile=$state/$1/pid pid
  [ -s "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null && { echo "stack: $name ignored SIGTERM, killing" >&2; kill -KILL "$pid"; }
  fi
  rm -f "$pidfile"
}

server_pid() {
  local name=$1
  if [ "$name" = postgres ]; then
    head -n 1 "$state/postgres/data/postmaster.pid" 2>/dev/null || true
  else
    cat "$state/$name/pid" 2>/dev/null || true
  fi
}

cmd_signal() {
  local signal=$1 name=$2 pid
  [[ " ${SERVERS[*]} " == *" $name "* ]] || die "unknown server '$name' (${SERVERS[*]})"
  pid=$(server_pid "$name")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || { echo "stack: $name is not running"; return 0; }
  # PostgreSQL's SIGTERM waits for every client to leave; SIGINT is its fast, clean shutdown.
  [ "$name" = postgres ] && [ "$signal" = TERM ] && signal=INT
  kill "-$signal" "$pid"
  # Wait until it is gone, so a following start never races the old process for its port.
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -0 "$pid" 2>/dev/null && die "$name (pid $pid) did not exit after SIG$signal"
  echo "stack: $name stopped (SIG$signal)"
}

cmd_start() {
  local name=$1
  [[ " ${SERVERS[*]} " == *" $name "* ]] || die "unknown server '$name' (${SERVERS[*]})"
  if "healthy_$name"; then echo "stack: $name already up"; else "start_$name"; echo "stack: $name up"; fi
}

cmd_down() {
  for name in alertmanager prometheus influxdb minio mosquitto; do
    stop_pid "$name"
  done
  if [ -s "$state/postgres/data/postmaster.pid" ]; then
    as_user postgres "$(pg_bindir)/pg_ctl" -D "$state/postgres/data" -m fast -w stop >/dev/null || true
  fi
  echo "stack: down (data kept in $state)"
}

cmd_status() {
  local down=0
  for name in "${SERVERS[@]}"; do
    if "healthy_$name" 2>/dev/null; then printf '%-11s up\n' "$name"; else printf '%-11s down\n' "$name"; down=1; fi
  done
  # Helm is a test tool, not a server: reported, never counted as down.
  local helm=$cache_root/helm-$HELM_VERSION/helm
  if [ -x "$helm" ]; then printf '%-11s %s\n' helm "$("$helm" version --short)"; else printf '%-11s not built\n' helm; fi
  printf 'state      %s\n' "$state"
  return $down
}

cmd_env() {
  cat <<ENV
export DATABASE_URL=postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DATABASE
export MQTT_URL=mqtt://127.0.0.1:$MQTT_SERVICE_PORT
export MQTT_DEVICE_URL=mqtt://127.0.0.1:$MQTT_PORT
export MQTT_PASSWORD_COLLECTOR=$(mqtt_password collector)
export MQTT_PASSWORD_DEVICE_MANAGER=$(mqtt_password device-manager)
export MQTT_PASSWORD_BROKER_EXPORTER=$(mqtt_password broker-exporter)
export MQTT_PASSWORD_TEST_CLIENT=$(mqtt_password test-client)
export BROKER_PASSWORD_FILE=$state/mosquitto/passwd
export BROKER_SERVICE_ACCOUNTS_DIR=$state/mosquitto/service-accounts
export BROKER_PID_FILE=$state/mosquitto/mosquitto.pid
export BROKER_SERVICE_URL=mqtt://127.0.0.1:$MQTT_SERVICE_PORT
export INFLUX_URL=http://127.0.0.1:$INFLUX_PORT
export INFLUX_TOKEN=$INFLUX_TOKEN
export INFLUX_ORG=$INFLUX_ORG
export INFLUX_BUCKET=$INFLUX_BUCKET
export S3_ENDPOINT=http://127.0.0.1:$MINIO_PORT
export S3_ACCESS_KEY=$S3_ACCESS_KEY
export S3_SECRET_KEY=$S3_SECRET_KEY
export S3_BUCKET=$S3_BUCKET
export S3_CONSOLE_URL=http://127.0.0.1:$MINIO_CONSOLE_PORT
export PROMETHEUS_URL=http://127.0.0.1:$PROMETHEUS_PORT
export PROMETHEUS_TARGETS_DIR=$state/prometheus/targets
export ALERTMANAGER_URL=http://127.0.0.1:$ALERTMANAGER_PORT
export ALERT_RECEIVER_PORT=$ALERT_RECEIVER_PORT
export HELM_BIN=$cache_root/helm-$HELM_VERSION/helm
export KUBERNETES_BIN_DIR=$cache_root/kubernetes-$KUBERNETES_VERSION
export ETCD_BIN=$cache_root/etcd-$ETCD_VERSION/etcd
export KWOK_BIN=$cache_root/kwok-$KWOK_VERSION/kwok
export KWOK_STAGES=$cache_root/kwok-$KWOK_VERSION/stages.yaml
export SCHEMATHESIS_BIN=$cache_root/schemathesis-$SCHEMATHESIS_VERSION/bin/st
ENV
  # Each service's own least-privilege credentials (docs/security.md §2), the tools that make them.
  cat <<ENV
export COLLECTOR_DATABASE_URL=$(database_url "$PG_COLLECTOR_USER" "$PG_COLLECTOR_PASSWORD")
export COLLECTOR_INFLUX_TOKEN=$(cat "$state/influxdb/collector.token" 2>/dev/null)
export COLLECTOR_S3_ACCESS_KEY=iot-meter-collector
export COLLECTOR_S3_SECRET_KEY=$S3_COLLECTOR_SECRET_KEY
export DEVICE_MANAGER_DATABASE_URL=$(database_url "$PG_DEVICE_MANAGER_USER" "$PG_DEVICE_MANAGER_PASSWORD")
export DEVICE_MANAGER_INFLUX_TOKEN=$(cat "$state/influxdb/device-manager.token" 2>/dev/null)
export DEVICE_MANAGER_S3_ACCESS_KEY=iot-meter-device-manager
export DEVICE_MANAGER_S3_SECRET_KEY=$S3_DEVICE_MANAGER_SECRET_KEY
export PG_SUPERUSER_URL=$(pg_superuser_url)
export MC_BIN=$cache_root/mc-$MC_VERSION/mc
export TELEGRAF_BIN=$cache_root/telegraf-$TELEGRAF_VERSION/telegraf
ENV
}

case ${1:-} in
  up) cmd_up ;;
  tools) cmd_tools ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  stop) cmd_signal TERM "${2:-}" ;;
  kill) cmd_signal KILL "${2:-}" ;;
  start) cmd_start "${2:-}" ;;
  mosquitto-release) fetch_mosquitto_release "${2:?a Debian version, e.g. 2.0.11-1.2+deb12u2}" ;;
  *) die "usage: stack.sh up|down|status|env|tools, stack.sh stop|kill|start NAME, or stack.sh mosquitto-release VERSION" ;;
esac
