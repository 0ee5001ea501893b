#!/usr/bin/env bash
# npm start: installs what a fresh machine lacks (scripts/setup.sh), builds, and runs the local
# pipeline (scripts/start/local-pipeline.ts; flags after `npm start --` go to it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash scripts/setup.sh
npm run -s build
# Under npm the parent is npm's script shell (`sh -c`), which outlives npm when npm is killed:
# the pipeline watches the nearest npm above it instead.
if [ -n "${npm_lifecycle_event:-}" ]; then
  pid=$PPID
  for _ in 1 2 3; do
    case $(ps -o comm= -p "$pid") in
      npm*) export IOT_METER_LAUNCHER_PID=$pid && break ;;
    esac
    pid=$(ps -o ppid= -p "$pid" | tr -d ' ')
  done
fi
exec node --conditions=iot-meter-source --import tsx scripts/start/local-pipeline.ts "$@"
