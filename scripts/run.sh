#!/usr/bin/env bash
# One command: set up, ingest sample_docs/ into the "sample" collection, start the service.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/rag ingest sample_docs --collection sample
echo "Ask away:  curl -s localhost:${RAG_PORT:-8000}/v1/query -H 'content-type: application/json' \\"
echo "             -d '{\"question\": \"How many days of annual leave do I get?\", \"collection\": \"sample\"}'"
exec .venv/bin/rag serve
