#!/usr/bin/env bash
# npm start: installs the dependencies on a fresh clone, builds, and runs the local pipeline
# (scripts/start/local-pipeline.ts; flags after `npm start --` go to it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
[ -d node_modules ] || npm ci
npm run -s build
exec node --conditions=iot-meter-source --import tsx scripts/start/local-pipeline.ts "$@"
