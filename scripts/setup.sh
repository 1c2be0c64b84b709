#!/usr/bin/env bash
# Create .venv and install the project with its test tools. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# The CPU build of torch, explicitly: a bare `torch` requirement may pull a multi-GB CUDA build.
.venv/bin/python -m pip install -q torch==2.13.0
# llama-cpp-python compiles from source the first time (about 5 minutes); pip caches the wheel.
.venv/bin/python -m pip install -q -e ".[dev]"
# Headless Chromium for the browser tests (tests/browser), from Debian's packages: only when asked
# (RAG_SETUP_BROWSER=1, as scripts/test.sh does) or in CI, so run.sh stays light.
if [ "${RAG_SETUP_BROWSER:-0}" = 1 ] || [ "${CI:-}" = true ]; then
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -q
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver
    else
      echo "The browser tests need Chromium: apt-get install chromium chromium-driver (as root)" >&2
    fi
  fi
fi
# PostgreSQL for the tests of RAG_DATABASE_URL (tests/postgres.py starts its own server with initdb/pg_ctl), from
# Debian's packages: only when asked (RAG_SETUP_POSTGRES=1, as scripts/test.sh does) or in CI.
if [ "${RAG_SETUP_POSTGRES:-0}" = 1 ] || [ "${CI:-}" = true ]; then
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -q
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
    else
      echo "The PostgreSQL tests need PostgreSQL: apt-get install postgresql (as root)" >&2
    fi
  fi
fi
