"""Schema fuzzing: schemathesis, every check, against the app served over real HTTP. The OpenAPI document is
the contract: no request shape is a 500, every status, header and body a route answers is the one documented,
a request the schema allows is accepted and one it forbids is refused, keys are asked for where declared,
and a 405 lists the path's methods."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from rag.config import Settings
from tests.conftest import BIN, ROOT, ingest_knowledge
from tests.fakes import fake_openai_server

SEED = 1414
EXAMPLES_PER_OPERATION = 60
KEY = "fuzz-key"
# The rules JSON Schema has no words for (a chat's last message, an upload's readable files).
HOOKS = "tests.integration.api.schema_fuzz_hooks"
# How much of a question and max_tokens (at most 1,000,000) fits is the chat model's capacity, not a rule of
# the request: a window nothing schema-valid can fill keeps its 400 out of "valid requests are accepted".
CONTEXT_WINDOW = 4_000_000


@pytest.mark.slow
def test_schemathesis_with_every_check_finds_nothing(live_server, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    # The schema's examples name the "sample" collection: with documents in it, searches, answers and
    # summaries reach retrieval and the (fake, instant) chat backend instead of stopping at a 404.
    ingest_knowledge(Settings(_env_file=None, data_dir=tmp_path / "data"), "sample")  # type: ignore[call-arg]
    bundle = tmp_path / "sample.tar"  # what the import route is sent: an archive `rag export` wrote
    data_env = {**os.environ, "RAG_DATA_DIR": str(tmp_path / "data")}
    export = [str(BIN / "rag"), "export", "sample", str(bundle)]
    exported = subprocess.run(export, env=data_env, capture_output=True, text=True, timeout=600)
    assert exported.returncode == 0, exported.stderr
    reports = tmp_path / "schemathesis"
    with fake_openai_server(reply="Full-time employees get 25 days of annual leave [1].") as fake:
        # With a key, the auth checks have something to check. Uploads of more than 2 files become jobs, so
        # the stateful phase can follow them to /v1/jobs/{id}.
        url = live_server(
            chat_base_url=fake.base_url, chat_max_retries=0, chat_timeout_s=10, sync_upload_files=2,
            api_keys=KEY, chat_context_window=CONTEXT_WINDOW,
        )  # fmt: skip
        command = [
            str(BIN / "st"), "run", f"{url}/openapi.json", "--checks", "all", "-H", f"Authorization: Bearer {KEY}",
            "--phases", "examples,coverage,fuzzing,stateful", "--mode", "all",  # positive and negative data
            "--seed", str(SEED), "--max-examples", str(EXAMPLES_PER_OPERATION), "--workers", "1",
            "--generation-database", "none", "--request-timeout", "120", "--no-color",
            # A limit for a machine busy with other tests: this is no benchmark (2,048 texts to embed is the
            # slowest request).
            "--max-response-time", "60",
            "--report", "json", "--report-dir", str(reports),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SCHEMATHESIS_HOOKS": HOOKS, "RAG_FUZZ_BUNDLE": str(bundle)}
        started = time.monotonic()
        run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200)
        seconds = time.monotonic() - started
    report = json.loads(next(reports.glob("*.json")).read_text())
    cases = report["test_cases"]
    with capsys.disabled():  # the figure belongs in the CI log, passed or not
        print(
            f"\nschemathesis: {cases['generated']} cases in {seconds:.0f} s, {cases['unique_failures']} unique"
            f" failures (every check, seed {SEED})"
        )
    assert run.returncode == 0 and cases["with_failures"] == 0 and not report["errors"], run.stdout[-20000:]
    assert cases["generated"] >= 1000
    assert all(phase["status"] == "success" for phase in report["phases"].values()), report["phases"]
