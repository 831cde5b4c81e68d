#!/usr/bin/env bash
# Builds the single veilnet executable: dist/veilnet (minified, with an embedded sourcemap).
# Any Worker (src/**/*.worker.ts) must be listed as an extra entry point or it silently never runs.
set -euo pipefail
cd "$(dirname "$0")"
BUN=./node_modules/.bin/bun
[ -x "$BUN" ] || { echo "compile.sh: run 'npm ci' first (bun comes from npm)" >&2; exit 1; }
entries=(src/cli.ts)
while IFS= read -r worker; do entries+=("$worker"); done < <(find src -name '*.worker.ts' | sort)
mkdir -p dist
"$BUN" build --compile --minify --sourcemap "${entries[@]}" --outfile dist/veilnet.tmp >/dev/null
mv dist/veilnet.tmp dist/veilnet
size=$(stat -c %s dist/veilnet)
echo "dist/veilnet: $((size / 1024 / 1024)) MiB ($size bytes), entries: ${entries[*]}"
