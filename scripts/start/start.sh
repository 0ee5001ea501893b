#!/usr/bin/env bash
# npm start: installs what a fresh machine lacks (scripts/setup.sh), builds, and runs the local
# pipeline (scripts/start/local-pipeline.ts; flags after `npm start --` go to it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash scripts/setup.sh
npm run -s build
exec node --conditions=iot-meter-source --import tsx scripts/start/local-pipeline.ts "$@"
