#!/usr/bin/env bash
# Upload benchmark: a large file through the admin API into a bucket of a
# private s3s-fs, against a plain S3 PUT of the same file (curl). Prints a
# Markdown table with the gateway's peak RSS.
#   bench/upload.sh [--quick]     (--quick: 256 MiB instead of 1 GiB)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
ensure_s3s_fs
command -v curl >/dev/null || apt_install curl
echo "building assetgate (release)…" >&2
cargo build --release --bin assetgate >&2
exec python3 bench/upload.py "$@"
