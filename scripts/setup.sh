#!/usr/bin/env bash
# Installs what veilnet's build, demo and tests need on a fresh Debian machine that has node/npm:
# Debian packages only when missing, then bun and the npm packages from the lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nats-server >/dev/null || need+=(nats-server)
command -v iperf3 >/dev/null || need+=(iperf3)
command -v nft >/dev/null || need+=(nftables)
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
command -v tc >/dev/null || need+=(iproute2)
command -v curl >/dev/null || need+=(curl)
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
./node_modules/.bin/bun --version >/dev/null
