#!/usr/bin/env bash
# Download hot-path benchmark: assetgate (PostgreSQL + Redis, and the embedded
# default) against nginx secure_link on the same files, same machine, same load
# generator, in one run. Prints a Markdown table. Loopback only, about 3-5 min.
#   bench/run.sh [--quick]        (--quick: shorter runs, smaller big file)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
ensure_postgres
ensure_redis
ensure_s3s_fs   # scenario (s): the catalogue in a bucket of a private s3s-fs
missing=()
command -v nginx >/dev/null || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
echo "building assetgate (release)…" >&2
cargo build --release --bin assetgate >&2
exec python3 bench/bench.py "$@"
