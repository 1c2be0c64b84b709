#!/usr/bin/env bash
# One command: set up and run the whole test suite (slow tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
RAG_SETUP_BROWSER=${RAG_SETUP_BROWSER:-1} RAG_SETUP_POSTGRES=${RAG_SETUP_POSTGRES:-1} RAG_SETUP_OCR=${RAG_SETUP_OCR:-1} \
  bash scripts/setup.sh
# Two worker processes (RAG_TEST_WORKERS; 0 runs in this process), each test file whole on one of them: the
# tests' servers, ports, databases and data dirs are their own, and most of their time is spent waiting on
# the subprocesses and servers they start.
exec .venv/bin/python -m pytest -ra -n "${RAG_TEST_WORKERS:-2}" --dist loadfile "$@"
