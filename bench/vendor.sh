#!/usr/bin/env bash
# Batch cancel (500 orders) p50/p99 and webhook delivery throughput, PostgreSQL + Redis.
#   bench/vendor.sh [--runs 20] [--events 500]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
ensure_postgres
ensure_redis
echo "building assetgate (release)…" >&2
cargo build --release --bin assetgate >&2
exec python3 bench/vendor.py "$@"
