#!/usr/bin/env bash
# Installs the Debian packages the local stack runs (as root, or through sudo), python3-venv for
# the API fuzzer, and buildah and debootstrap, which build and run our images without a Docker
# engine (scripts/images/build.sh). Go, Rust and Node come with the machine; MinIO, InfluxDB 2, Helm,
# the control plane and schemathesis (from PyPI) are built or installed by `npm run stack:up`.
set -euo pipefail

packages=(postgresql mosquitto mosquitto-clients prometheus curl ca-certificates python3-venv
  buildah debootstrap debian-archive-keyring)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
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
echo "setup: ready ($(go version | cut -d' ' -f3), $(cargo --version | cut -d' ' -f1-2), node $(node --version))"
