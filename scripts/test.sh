#!/usr/bin/env bash
# The whole test suite: lint, type check, then every bun test (root-only netns tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh
echo "== biome"; ./node_modules/.bin/biome check .
echo "== tsc --noEmit"; ./node_modules/.bin/tsc --noEmit
echo "== compile (the end-to-end tests run dist/veilnet, as operators do)"; ./compile.sh
echo "== bun test"; ./node_modules/.bin/bun test --timeout 120000 "$@"
echo "test.sh: finished in $(( $(date +%s) - start )) s"
