#!/usr/bin/env bash
# One command: set up and run the whole test suite (slow tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
RAG_SETUP_BROWSER=${RAG_SETUP_BROWSER:-1} RAG_SETUP_POSTGRES=${RAG_SETUP_POSTGRES:-1} RAG_SETUP_OCR=${RAG_SETUP_OCR:-1} \
  bash scripts/setup.sh
exec .venv/bin/python -m pytest -ra "$@"
