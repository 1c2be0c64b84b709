"""Schema fuzzing: schemathesis against the app served over real HTTP. No request shape may be a 500, and
every status and body a route answers must be the one its OpenAPI documents."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from rag.config import Settings
from tests.conftest import BIN, ingest_knowledge
from tests.fakes import fake_openai_server

SEED = 1414
EXAMPLES_PER_OPERATION = 60
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance"


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_undocumented_response(live_server, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    # The schema's examples name the "sample" collection: with documents in it, searches, answers and
    # summaries reach retrieval and the (fake, instant) chat backend instead of stopping at a 404.
    ingest_knowledge(Settings(_env_file=None, data_dir=tmp_path / "data"), "sample")  # type: ignore[call-arg]
    reports = tmp_path / "schemathesis"
    with fake_openai_server(reply="Full-time employees get 25 days of annual leave [1].") as fake:
        # Uploads of more than 2 files become jobs, so the stateful phase follows them to /v1/jobs/{id}.
        url = live_server(chat_base_url=fake.base_url, chat_max_retries=0, chat_timeout_s=10, sync_upload_files=2)
        command = [
            str(BIN / "st"), "run", f"{url}/openapi.json", "--checks", CHECKS,
            "--phases", "examples,coverage,fuzzing,stateful", "--mode", "all",  # positive and negative data
            "--seed", str(SEED), "--max-examples", str(EXAMPLES_PER_OPERATION), "--workers", "1",
            "--generation-database", "none", "--request-timeout", "120", "--no-color",
            "--report", "json", "--report-dir", str(reports),
        ]  # fmt: skip
        run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    report = json.loads(next(reports.glob("*.json")).read_text())
    cases = report["test_cases"]
    with capsys.disabled():  # the figure belongs in the CI log, passed or not
        print(f"\nschemathesis: {cases['generated']} cases, {cases['unique_failures']} unique failures (seed {SEED})")
    assert run.returncode == 0 and cases["with_failures"] == 0 and not report["errors"], run.stdout[-20000:]
    assert cases["generated"] >= 1000
    assert all(phase["status"] == "success" for phase in report["phases"].values()), report["phases"]
