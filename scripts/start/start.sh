#!/usr/bin/env bash
# npm start: installs what a fresh machine lacks (scripts/setup.sh), builds, and runs the local
# pipeline (scripts/start/local-pipeline.ts; flags after `npm start --` go to it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash scripts/setup.sh
npm run -s build
# Under npm the parent is npm's `sh -c`, which outlives npm when npm is killed: watch npm itself.
if [ -n "${npm_lifecycle_event:-}" ]; then
  IOT_METER_LAUNCHER_PID=$(ps -o ppid= -p "$PPID" | tr -d ' ')
  export IOT_METER_LAUNCHER_PID
fi
exec node --conditions=iot-meter-source --import tsx scripts/start/local-pipeline.ts "$@"
