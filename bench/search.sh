#!/usr/bin/env bash
# Operator search over a million order lines on PostgreSQL: p50/p99 and EXPLAIN ANALYZE.
#   bench/search.sh [--lines 1000000] [--runs 200]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
ensure_postgres
ensure_redis
echo "building assetgate (release)…" >&2
cargo build --release --bin assetgate >&2
exec python3 bench/search.py "$@"
