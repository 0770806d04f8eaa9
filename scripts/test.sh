#!/usr/bin/env bash
# The whole test suite: unit tests, the black-box API tests (most on SQLite +
# in-process revocations and on PostgreSQL + Redis), outage tests on private
# servers, the object-storage tests on private s3s-fs servers, the console's
# browser tests in headless Chromium, and schemathesis against the OpenAPI
# document.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
ensure_postgres
ensure_redis   # also needed as a binary: fault tests start private redis-server children
ensure_chromium   # the console's browser tests drive a real headless Chromium
ensure_schemathesis   # the OpenAPI contract test runs it against the real server
ensure_s3s_fs   # the object-storage tests start private S3-protocol servers
ensure_pdf_tools   # the stamping tests read stamped copies with pdftotext and qpdf

if ! command -v cargo-nextest >/dev/null; then
  echo "installing cargo-nextest…" >&2
  cargo install --locked cargo-nextest >&2
fi
exec cargo nextest run --workspace --no-fail-fast "$@"
