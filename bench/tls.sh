#!/usr/bin/env bash
# Server memory per held connection, plain WebSocket against WSS (TLS), in
# one run: bench/tls.sh [CONNECTIONS]   (default 2000; loopback only)
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build test-deps >/dev/null
PRESENCED_BIN="${PRESENCED_BIN:-$PWD/build/app/presenced}" \
  exec node bench/tls_hold.mjs "${1:-2000}"
