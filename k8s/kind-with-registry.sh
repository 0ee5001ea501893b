#!/usr/bin/env bash
# A kind cluster with a local image registry, following kind's own recipe
# (kind.sigs.k8s.io/docs/user/local-registry): the registry container on 127.0.0.1:5001, each node
# told to pull localhost:5001 from it, and the local-registry-hosting ConfigMap Tilt reads.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
name=kind-registry
port=5001
if [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null || true)" != true ]; then
  docker run -d --restart=always -p "127.0.0.1:$port:5000" --network bridge --name "$name" registry:2
fi
kind get clusters | grep -qx iot-meter || kind create cluster --config kind-config.yaml
for node in $(kind get nodes --name iot-meter); do
  docker exec "$node" mkdir -p "/etc/containerd/certs.d/localhost:$port"
  printf '[host."http://%s:5000"]\n' "$name" | docker exec -i "$node" cp /dev/stdin "/etc/containerd/certs.d/localhost:$port/hosts.toml"
done
[ "$(docker inspect -f '{{json .NetworkSettings.Networks.kind}}' "$name")" != null ] || docker network connect kind "$name"
kubectl apply -f - <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "localhost:$port"
    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
YAML
