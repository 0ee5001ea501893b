# Builds the servers Debian does not package, from the Go module proxy (and crates.io for flux's
# libflux), once per pinned version. Sourced by stack.sh; each build_* prints the binary's path.

cache_root=${IOT_METER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/iot-meter}

# Runs "$@" with GOBIN at a fresh folder and moves the named binary into place only on success,
# so an interrupted build never leaves a half-written cache entry.
install_cached() {
  local out=$1 binary=$2 lock
  shift 2
  [ -x "$out" ] && { echo "$out"; return; }
  mkdir -p "$(dirname "$out")"
  # One build at a time per binary: a second stack (a private one, a parallel run) waits for it.
  exec {lock}>"$(dirname "$out")/.lock"
  flock "$lock"
  [ -x "$out" ] && { exec {lock}>&-; echo "$out"; return; }
  local tmp
  tmp=$(mktemp -d "$cache_root/.build.XXXXXX")
  echo "building $(basename "$out") (first run only; cached at $out)" >&2
  # The build runs without the lock's descriptor, so nothing it leaves running can hold the lock.
  if ! (cd "$tmp" && GOBIN="$tmp/bin" GOFLAGS=-buildvcs=false "$@") {lock}>&- >&2; then
    rm -rf "$tmp"
    exec {lock}>&-
    echo "build of $(basename "$out") failed" >&2
    return 1
  fi
  local moved=0
  mv "$tmp/bin/$binary" "$out" || moved=$?
  rm -rf "$tmp"
  exec {lock}>&-
  [ "$moved" = 0 ] || { echo "could not install $(basename "$out")" >&2; return 1; }
  echo "$out"
}

build_minio() {
  install_cached "$cache_root/minio-$MINIO_VERSION/minio" minio \
    go install "github.com/minio/minio@$MINIO_VERSION"
}

build_mc() {
  install_cached "$cache_root/mc-$MC_VERSION/mc" mc go install "github.com/minio/mc@$MC_VERSION"
}

build_helm() {
  # Helm's Makefile stamps the full version in; without it `helm version` says only "v4.3".
  install_cached "$cache_root/helm-$HELM_VERSION/helm" helm \
    go install -ldflags "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
}

# k8s.io/kubernetes requires its staging modules (k8s.io/api, …) at v0.0.0 and replaces them with
# ./staging paths, which `go install` refuses: a wrapper module replaces each with its published
# v0.<minor>.<patch> release. The version ldflags make the server report its real version (helm's
# kubeVersion checks read it).
build_kubernetes() {
  local binary
  for binary in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    install_cached "$cache_root/kubernetes-$KUBERNETES_VERSION/$binary" "$binary" \
      build_kubernetes_in_wrapper "$binary" >/dev/null || return 1
  done
  echo "$cache_root/kubernetes-$KUBERNETES_VERSION"
}

build_kubernetes_in_wrapper() {
  local binary=$1 staging=v0.${KUBERNETES_VERSION#v1.} minor
  minor=${KUBERNETES_VERSION#v1.}
  minor=${minor%%.*}
  local k8s_mod
  k8s_mod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    printf 'module iot-meter/kubernetes-build\n\ngo 1.24\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$KUBERNETES_VERSION"
    sed -n 's|^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*|\t\1 => \1 '"$staging"'|p' "$k8s_mod"
    printf ')\n'
  } >go.mod
  printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/%s"\n' "$binary" >tools.go
  go mod tidy
  go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION \
    -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
    -o "$GOBIN/$binary" "k8s.io/kubernetes/cmd/$binary"
}

# etcd's server module replaces its sibling modules with ../ paths; required from a wrapper module,
# those replaces are ignored and the published ones are used.
build_etcd() {
  install_cached "$cache_root/etcd-$ETCD_VERSION/etcd" etcd build_etcd_in_wrapper
}

build_etcd_in_wrapper() {
  printf 'module iot-meter/etcd-build\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >go.mod
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >tools.go
  go mod tidy
  go build -trimpath -o "$GOBIN/etcd" go.etcd.io/etcd/server/v3
}

# kwok and its "fast" stages (nodes Ready, pods Running, Job pods Succeeded, deletions finished),
# which it needs as configuration.
build_kwok() {
  install_cached "$cache_root/kwok-$KWOK_VERSION/kwok" kwok build_kwok_with_stages
}

build_kwok_with_stages() {
  go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  local stages
  stages=$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage
  mkdir -p "$cache_root/kwok-$KWOK_VERSION"
  for file in node/fast/node-initialize pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    printf -- '---\n'
    cat "$stages/$file.yaml"
  done >"$cache_root/kwok-$KWOK_VERSION/stages.yaml"
}

build_schemathesis() {
  local dir=$cache_root/schemathesis-$SCHEMATHESIS_VERSION
  # A virtualenv cannot be moved into place (its scripts name their own path), so a marker file
  # says the install finished.
  [ -f "$dir/.installed" ] && { echo "$dir/bin/st"; return; }
  local lock
  mkdir -p "$cache_root"
  exec {lock}>"$cache_root/.schemathesis.lock"
  flock "$lock"
  [ -f "$dir/.installed" ] && { exec {lock}>&-; echo "$dir/bin/st"; return; }
  echo "installing schemathesis (first run only; cached at $dir)" >&2
  rm -rf "$dir"
  if ! { python3 -m venv "$dir" && "$dir/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"; } {lock}>&- >&2; then
    rm -rf "$dir"
    exec {lock}>&-
    echo "install of schemathesis failed" >&2
    return 1
  fi
  touch "$dir/.installed"
  exec {lock}>&-
  echo "$dir/bin/st"
}

build_influxd() {
  install_cached "$cache_root/influxd-$INFLUXDB_VERSION/influxd" influxd build_influxd_in_wrapper
}

# influxd's go.mod has a replace directive, so `go install` refuses it: build it from a wrapper
# module that repeats the replace. Its query engine links flux's Rust libflux, which influxdata's
# pkg-config wrapper builds with cargo; flux denies warnings and newer rustc versions add lints,
# so every crate's lints are capped at warn (build scripts included, hence a rustc wrapper rather
# than RUSTFLAGS). RUSTUP_TOOLCHAIN=stable keeps rustup from fetching flux's pinned 1.72.
build_influxd_in_wrapper() {
  cat >go.mod <<MOD
module iot-meter/influxd-build

go 1.23

require github.com/influxdata/influxdb/v2 $INFLUXDB_VERSION

replace github.com/nats-io/nats-streaming-server v0.11.2 => github.com/influxdata/nats-streaming-server v0.11.3-0.20201112040610-c277f7560803
MOD
  cat >tools.go <<'SRC'
//go:build tools

package tools

import _ "github.com/influxdata/influxdb/v2/cmd/influxd"
SRC
  cat >rustc-cap-lints <<'SH'
#!/bin/sh
rustc=$1
shift
case " $* " in *" --cap-lints"*) exec "$rustc" "$@" ;; esac
exec "$rustc" "$@" --cap-lints=warn
SH
  chmod +x rustc-cap-lints
  go mod tidy
  go install "github.com/influxdata/pkg-config@$INFLUX_PKG_CONFIG_VERSION"
  PKG_CONFIG="$GOBIN/pkg-config" RUSTUP_TOOLCHAIN=stable RUSTC_WRAPPER="$PWD/rustc-cap-lints" CGO_ENABLED=1 \
    go build -tags sqlite_foreign_keys,sqlite_json \
    -ldflags "-X main.version=${INFLUXDB_VERSION#v} -X main.commit=go-module" \
    -o "$GOBIN/influxd" github.com/influxdata/influxdb/v2/cmd/influxd
}

# Telegraf with only the plugins the ingest benchmark configures ("custom" leaves out the other
# few hundred). `go install …@version` would ignore its go.mod's `godebug x509negativeserial=1`, so a
# wrapper module repeats it and Telegraf's go line, which sets the other GODEBUG defaults (its go.mod
# has no replace directives to repeat); -mod=mod resolves only the packages these tags build, not
# every plugin's dependencies as `go mod tidy` would. The ldflag is the version its Makefile stamps.
build_telegraf() {
  install_cached "$cache_root/telegraf-$TELEGRAF_VERSION/telegraf" telegraf build_telegraf_in_wrapper
}

build_telegraf_in_wrapper() {
  cat >go.mod <<MOD
module iot-meter/telegraf-build

go 1.25.5

godebug x509negativeserial=1

require github.com/influxdata/telegraf $TELEGRAF_VERSION
MOD
  CGO_ENABLED=0 go build -mod=mod \
    -tags custom,inputs.mqtt_consumer,outputs.influxdb_v2,parsers.json_v2,processors.unpivot \
    -ldflags "-X github.com/influxdata/telegraf/internal.Version=${TELEGRAF_VERSION#v}" \
    -o "$GOBIN/telegraf" github.com/influxdata/telegraf/cmd/telegraf
}

# Another Debian release of Mosquitto than the installed one, unpacked into the cache (the delivery
# soak runs against several broker versions): `apt-get download` fetches the exact package, which
# runs with the libraries the installed release already brought.
fetch_mosquitto_release() {
  local version=$1 dir=$cache_root/mosquitto-$1
  [ -x "$dir/usr/sbin/mosquitto" ] && { echo "$dir/usr/sbin/mosquitto"; return; }
  mkdir -p "$cache_root"
  local tmp
  tmp=$(mktemp -d "$cache_root/.build.XXXXXX")
  chmod 755 "$tmp"
  if ! (cd "$tmp" && apt-get download -q "mosquitto=$version" >&2 && dpkg-deb -x mosquitto_*.deb root); then
    rm -rf "$tmp"
    echo "could not fetch Debian's mosquitto $version (apt-cache madison mosquitto lists the releases)" >&2
    return 1
  fi
  mv "$tmp/root" "$dir"
  rm -rf "$tmp"
  echo "$dir/usr/sbin/mosquitto"
}
