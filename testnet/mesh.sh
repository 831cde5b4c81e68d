#!/usr/bin/env bash
# veilnet's network-namespace test harness; see testnet/README.md. Needs root.
exec "$(dirname "$0")/../node_modules/.bin/bun" run "$(dirname "$0")/cli.ts" "$@"
