#!/usr/bin/env bash
# Create .venv and install the project with its test tools. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# The CPU build of torch, explicitly: a bare `torch` requirement may pull a multi-GB CUDA build.
.venv/bin/python -m pip install -q torch==2.13.0
# llama-cpp-python compiles from source (about 5 minutes), once per machine: into a wheel folder of our own,
# then installed from there. On x86-64 it is built for AVX2 rather than for the building CPU (the default,
# -march=native): the native build of 0.3.36 crashed in ggml's CPU kernels at the first token on an AVX-512
# Xeon here. pip's own wheel cache cannot be used for this: it keys a built wheel by its source, not by the
# build flags, so it would hand back a native build made earlier.
LLAMA_CPP_VERSION=0.3.36
WHEELS=${RAG_WHEEL_DIR:-$HOME/.cache/rag-service/wheels}
if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl >/dev/null 2>&1; then
  if [ "$(uname -m)" = x86_64 ]; then
    export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
  fi
  .venv/bin/python -m pip wheel -q --no-cache-dir --no-deps "llama-cpp-python==$LLAMA_CPP_VERSION" -w "$WHEELS"
  unset CMAKE_ARGS
fi
# Forced, so a venv holding an earlier native build gets this one (a few seconds: the wheel is local).
.venv/bin/python -m pip install -q --no-index --find-links "$WHEELS" --no-deps --force-reinstall \
  "llama-cpp-python==$LLAMA_CPP_VERSION"
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
# Tesseract for OCR of scanned PDFs and images (ingest/loaders/ocr.py; English: tesseract-ocr-eng comes with it),
# from Debian's packages: only when asked (RAG_SETUP_OCR=1, as scripts/test.sh does) or in CI. Without it the
# service runs, and refuses scans saying how to install it.
if [ "${RAG_SETUP_OCR:-0}" = 1 ] || [ "${CI:-}" = true ]; then
  if ! command -v tesseract >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -q
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q tesseract-ocr
    else
      echo "OCR and its tests need Tesseract: apt-get install tesseract-ocr (as root)" >&2
    fi
  fi
fi
