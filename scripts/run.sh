#!/usr/bin/env bash
# One command: set up, ingest sample_docs/ into the "sample" collection, start the service.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/rag ingest sample_docs --collection sample
.venv/bin/rag collections list
.venv/bin/rag docs list --collection sample
