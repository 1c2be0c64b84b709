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
