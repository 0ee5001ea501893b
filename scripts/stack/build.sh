# Builds the servers Debian does not package, from the Go module proxy (and crates.io for flux's
# libflux), once per pinned version. Sourced by stack.sh; each build_* prints the binary's path.

cache_root=${IOT_METER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/iot-meter}

# Runs "$@" with GOBIN at a fresh folder and moves the named binary into place only on success,
# so an interrupted build never leaves a half-written cache entry.
install_cached() {
  local out=$1 binary=$2
  shift 2
  [ -x "$out" ] && { echo "$out"; return; }
  mkdir -p "$(dirname "$out")"
  local tmp
  tmp=$(mktemp -d "$cache_root/.build.XXXXXX")
  echo "building $(basename "$out") (first run only; cached at $out)" >&2
  if ! (cd "$tmp" && GOBIN="$tmp/bin" GOFLAGS=-buildvcs=false "$@") >&2; then
    rm -rf "$tmp"
    echo "build of $(basename "$out") failed" >&2
    return 1
  fi
  mv "$tmp/bin/$binary" "$out"
  rm -rf "$tmp"
  echo "$out"
}

build_minio() {
  install_cached "$cache_root/minio-$MINIO_VERSION/minio" minio \
    go install "github.com/minio/minio@$MINIO_VERSION"
}

build_helm() {
  # Helm's Makefile stamps the full version in; without it `helm version` says only "v4.3".
  install_cached "$cache_root/helm-$HELM_VERSION/helm" helm \
    go install -ldflags "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
}

build_schemathesis() {
  local dir=$cache_root/schemathesis-$SCHEMATHESIS_VERSION
  # A virtualenv cannot be moved into place (its scripts name their own path), so a marker file
  # says the install finished.
  [ -f "$dir/.installed" ] && { echo "$dir/bin/st"; return; }
  echo "installing schemathesis (first run only; cached at $dir)" >&2
  rm -rf "$dir"
  if ! { python3 -m venv "$dir" && "$dir/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"; } >&2; then
    rm -rf "$dir"
    echo "install of schemathesis failed" >&2
    return 1
  fi
  touch "$dir/.installed"
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
