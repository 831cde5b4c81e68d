#!/usr/bin/env bash
# The main job: build dist/veilnet, then run a veilnet mesh in network namespaces on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./compile.sh
exec ./node_modules/.bin/bun run scripts/demo.ts "$@"
