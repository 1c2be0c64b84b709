"""`rag eval --from-feedback` as a user runs it (real processes): rated answers of a served collection become
a QA set with the collection's documents beside it, and `rag eval` scores that set on a fresh data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from rag.config import Settings
from tests.conftest import ROOT, ingest_knowledge

LEAVE = "How many days of annual leave do full-time employees get?"
ROBOT = "What should I do about error E09 on the robot?"
PARKING = "Where can visitors park?"


def _rag(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAG_DATA_DIR": str(data_dir), "RAG_ANSWER_MODE": "extract",
           "RAG_CHAT_BASE_URL": "http://127.0.0.1:9/v1", "COLUMNS": "200"}  # fmt: skip
    command = [sys.executable, "-m", "cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, cwd=ROOT)


def test_feedback_becomes_a_qa_set_that_rag_eval_scores(live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    ingest_knowledge(Settings(_env_file=None, data_dir=data), "hr")  # type: ignore[call-arg]
    url = live_server(answer_mode="extract")
    with httpx.Client(base_url=url, timeout=300) as client:
        ids = {q: client.post("/v1/query", json={"question": q, "collection": "hr"}).json()["id"] for q in
               (LEAVE, ROBOT, PARKING)}  # fmt: skip
        votes = {LEAVE: {"rating": "up"}, ROBOT: {"rating": "down", "source": "robot.md"},
                 PARKING: {"rating": "down", "comment": "we have no parking page"}}  # fmt: skip
        for question, vote in votes.items():
            assert client.post(f"/v1/answers/{ids[question]}/feedback", json=vote).status_code == 201

    out = tmp_path / "from-feedback"
    written = _rag(data, "eval", "--from-feedback", "hr", "--out", str(out), "--json")
    assert written.returncode == 0, written.stderr
    summary = json.loads(written.stdout)
    assert summary["questions"] == 2 and summary["documents"] == 3 and summary["skipped"] == {"down vote, no source": 1}
    items = {row["question"]: row for row in map(json.loads, (out / "questions.jsonl").read_text().splitlines())}
    assert items[LEAVE]["gold"] == [{"file": "leave.txt", "page": None}] and "25 days" in items[LEAVE]["answer"]
    assert items[ROBOT]["gold"] == [{"file": "robot.md", "page": None}] and items[ROBOT]["answer"] is None
    assert sorted(p.name for p in (out / "documents").iterdir()) == ["leave.txt", "robot.md", "security.txt"]

    scored = _rag(tmp_path / "fresh", "eval", str(out), "--docs", str(out / "documents"), "--json")
    assert scored.returncode == 0, scored.stderr
    report = json.loads(scored.stdout)
    assert report["questions"] == 2 and report["hit@5"] == 1.0

    nothing = _rag(data, "eval", "--from-feedback", "hr")
    assert nothing.returncode == 2 and "--out" in nothing.stderr
