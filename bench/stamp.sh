#!/usr/bin/env bash
# Per-buyer PDF stamping: throughput of the stamp itself, fulfilment latency of a
# stamped line against an unstamped one, and /access on a stamped copy against an
# unstamped file of the same size. PostgreSQL + Redis, release build. ~3 min.
#   bench/stamp.sh [--orders 200] [--seconds 5]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
ensure_postgres
ensure_redis
command -v wrk >/dev/null || apt_install wrk
echo "building assetgate and the stamping bench (release)…" >&2
cargo build --release --bin assetgate --example stamp_bench >&2
exec python3 bench/stamp.py "$@"
