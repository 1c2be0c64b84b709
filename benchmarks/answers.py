"""Answer quality on kb-dev: `rag eval` in answer mode, once per answer mode and backend, as one table.

    shared/eval/kb-dev/rebuild.sh /tmp/kb-dev-docs                     # once: the 8 manuals
    .venv/bin/python benchmarks/answers.py --docs /tmp/kb-dev-docs [--modes extract,auto,generate]
    .venv/bin/python benchmarks/answers.py --docs /tmp/kb-dev-docs --modes generate --openai-server

Each mode runs the real `rag eval ../shared/eval/kb-dev --docs DIR --json` with `RAG_ANSWER_MODE` set,
on one data dir (the documents are ingested by the first run, then `unchanged`). `--openai-server`
starts `python -m llama_cpp.server` on the packaged SmolLM2 and answers through the OpenAI-compatible
backend instead of the in-process one, to show the evaluation works against any backend. Figures are
printed as JSON lines and as a table; `--details-dir` keeps every question's answer and verdicts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port, server_process  # noqa: E402

COLUMNS = [
    "hit@1", "hit@5", "abstention", "false_abstention", "citation_precision", "citation_coverage",
    "f1", "numbers_ok", "supported_sentences", "ttft_p50_s", "ttft_p95_s", "total_p50_s", "total_p95_s",
]  # fmt: skip


def run_eval(kb_dev: Path, docs: Path, data_dir: Path, env: dict[str, str], details: Path | None) -> dict:
    command = [str(Path(sys.executable).parent / "rag"), "eval", str(kb_dev), "--docs", str(docs), "--json"]
    if details:
        command += ["--details", str(details)]
    done = subprocess.run(command, env={**os.environ, "RAG_DATA_DIR": str(data_dir), **env},
                          stdout=subprocess.PIPE, text=True, check=True)  # fmt: skip
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kb-dev", type=Path, default=ROOT.parent / "shared" / "eval" / "kb-dev")
    parser.add_argument("--docs", type=Path, default=Path(os.environ.get("KB_DEV_DOCS", "/tmp/kb-dev-docs")))
    parser.add_argument("--data-dir", type=Path, default=None, help="default: a fresh temp dir")
    parser.add_argument("--modes", default="extract,auto", help="comma-separated RAG_ANSWER_MODE values")
    parser.add_argument("--openai-server", action="store_true", help="answer through a real llama.cpp server")
    parser.add_argument("--details-dir", type=Path, default=None)
    args = parser.parse_args()

    with ExitStack() as stack:
        data_dir = args.data_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kbdev-")))
        backend_env: dict[str, str] = {}
        if args.openai_server:
            from rag.backends.local import default_gguf_path

            port = free_port()
            command = [sys.executable, "-m", "llama_cpp.server", "--model", default_gguf_path(),
                       "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]  # fmt: skip
            url = stack.enter_context(server_process(command, "/v1/models", port))
            backend_env = {"RAG_CHAT_BASE_URL": f"{url}/v1", "RAG_CHAT_MODEL": "smollm2"}
        if args.details_dir:
            args.details_dir.mkdir(parents=True, exist_ok=True)
        rows = []
        for mode in args.modes.split(","):
            details = args.details_dir / f"{mode}.jsonl" if args.details_dir else None
            report = run_eval(args.kb_dev, args.docs, data_dir, {**backend_env, "RAG_ANSWER_MODE": mode}, details)
            row = {"mode": mode, "backend": "openai" if args.openai_server else "default", **report}
            print(json.dumps(row), flush=True)
            rows.append(row)
    print("| mode | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for row in rows:
        print(f"| {row['mode']} | " + " | ".join("-" if row[c] is None else str(row[c]) for c in COLUMNS) + " |")


if __name__ == "__main__":
    main()
