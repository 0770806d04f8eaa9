#!/usr/bin/env bash
# Soak / chaos test of the revocation guarantee: two instances, a private
# PostgreSQL and a private redis-server, both with injected faults; prints a
# table and exits 1 on any leak.
#   scripts/soak.sh [--duration 60] [--lines 1500] [--clients 32] [--cancel-rate 22]
#                   [--fault-every 4] [--pg-outage-every 15] [--pg-outage-ms 1500]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
ensure_postgres
ensure_redis
cargo build --release --bin assetgate --example soak
exec target/release/examples/soak "$@"
