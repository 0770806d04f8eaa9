#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer on 127.0.0.1, starting them if they are
# installed but stopped, and installing them with apt when absent (as root).
# Sourced by scripts/test.sh and bench/run.sh. Honours TEST_POSTGRES_URL /
# TEST_REDIS_URL: when set, those services are used as they are.

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  return 1
}

apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "error: $* is not installed and this is not a root Debian/Ubuntu machine; install it, or set TEST_POSTGRES_URL / TEST_REDIS_URL" >&2
    return 1
  fi
  echo "installing $* with apt-get…" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# initdb and pg_ctl: outage tests and the soak run private PostgreSQL servers.
ensure_postgres_binaries() {
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
}

ensure_postgres() {
  ensure_postgres_binaries || return 1
  [ -n "${TEST_POSTGRES_URL:-}" ] && return 0
  port_open 5432 && return 0
  local fresh=0
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql || return 1
    fresh=1
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "starting PostgreSQL $version…" >&2
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
  wait_port 5432 || { echo "error: PostgreSQL did not start on 127.0.0.1:5432" >&2; return 1; }
  if [ "$fresh" = 1 ]; then
    # A fresh Debian cluster wants a password over TCP: give the test user one.
    su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >&2
    export TEST_POSTGRES_URL="postgres://postgres:postgres@127.0.0.1:5432"
  fi
}

ensure_redis() {
  [ -n "${TEST_REDIS_URL:-}" ] && return 0
  if ! command -v redis-server >/dev/null; then
    apt_install redis-server || return 1
  fi
  port_open 6379 && return 0
  echo "starting Redis…" >&2
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >&2
  wait_port 6379 || { echo "error: Redis did not start on 127.0.0.1:6379" >&2; return 1; }
}

# Headless Chromium and its WebDriver for the console's browser tests.
ensure_chromium() {
  command -v chromium >/dev/null && command -v chromedriver >/dev/null && return 0
  apt_install chromium chromium-driver
}

# poppler-utils (pdftotext, pdftoppm) and qpdf: the stamping tests check
# stamped copies with them and make an encrypted fixture with qpdf.
ensure_pdf_tools() {
  command -v pdftotext >/dev/null && command -v pdftoppm >/dev/null && command -v qpdf >/dev/null && return 0
  apt_install poppler-utils qpdf
}

# schemathesis (PyPI) for the OpenAPI contract test, in .venv; the test finds it
# there (or through $SCHEMATHESIS).
SCHEMATHESIS_VERSION=4.32.5
ensure_schemathesis() {
  local venv=".venv"
  if [ -x "$venv/bin/schemathesis" ] && "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    return 0
  fi
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv…" >&2
  if ! python3 -m venv "$venv" >&2 2>/dev/null; then
    apt_install python3-venv
    python3 -m venv "$venv" >&2
  fi
  "$venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION" >&2
}

# s3s-fs (crates.io; a real S3-protocol server that checks SigV4 signatures)
# for the object-storage tests, which start private instances of it. Built
# once into a tool cache outside the checkout (a few minutes the first time);
# the tests find it there (or through $S3S_FS). Its newest release needs a
# newer Rust than 1.95: 0.14.1 is pinned.
S3S_FS_VERSION=0.14.1
ensure_s3s_fs() {
  local root="${XDG_CACHE_HOME:-$HOME/.cache}/assetgate-tools"
  if [ -x "$root/bin/s3s-fs" ] && "$root/bin/s3s-fs" --version 2>/dev/null | grep -q "$S3S_FS_VERSION"; then
    return 0
  fi
  echo "installing s3s-fs $S3S_FS_VERSION into $root (once; a few minutes)…" >&2
  CARGO_TARGET_DIR="$root/build" cargo install --quiet --locked --force \
    --root "$root" --version "$S3S_FS_VERSION" --features binary s3s-fs >&2
  rm -rf "$root/build"
}
