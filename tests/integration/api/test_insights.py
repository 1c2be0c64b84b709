"""Insights over real HTTP (uvicorn) on SQLite and PostgreSQL, and `rag insights` as a real subprocess: the
questions a collection could not answer come back grouped by topic with the real embedder, beside the
answered share, the reasons, the answers voted down and the documents no answer cited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import httpx
import pytest

from rag.config import Settings
from rag.storage.keys import build_key_store
from tests.conftest import ROOT, ingest_knowledge
from tests.integration.backends.test_api_backends import assert_contract

ANSWERABLE = ["How many days of annual leave do full-time employees get?", "What does error E09 mean?"]
PARKING = ["Where can visitors park their cars?", "Is there parking for visitors?",
           "How do I get a parking permit for the car park?"]  # fmt: skip
CANTEEN = ["What is on the cafeteria menu today?", "Does the canteen serve vegetarian lunch?"]


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "sqlite":
        return {}
    return {"database_url": request.getfixturevalue("database_url")}


def test_insights_group_the_unanswered_questions_and_name_the_documents_never_cited(  # type: ignore[no-untyped-def]
    live_server, tmp_path, engine
) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", **engine)  # type: ignore[arg-type]
    ingest_knowledge(settings, "hr")
    store = build_key_store(settings)
    reader = {"Authorization": f"Bearer {store.create('reader', 'reader', frozenset({'hr'}))}"}
    writer = {"Authorization": f"Bearer {store.create('writer', 'writer', frozenset({'hr'}))}"}
    store.close()
    url = live_server(answer_mode="extract", **engine)
    with httpx.Client(base_url=url, timeout=300, headers=writer) as client:
        ids = {}
        for question in [*ANSWERABLE, *PARKING, *CANTEEN]:
            answer = client.post("/v1/query", json={"question": question, "collection": "hr"}).json()
            ids[question] = answer["id"]
            assert answer["abstained"] == (question not in ANSWERABLE), answer
        down = {"rating": "down", "comment": "needs the robot manual", "source": "robot-manual.pdf"}
        assert client.post(f"/v1/answers/{ids[ANSWERABLE[1]]}/feedback", json=down).status_code == 201
        assert client.post(f"/v1/answers/{ids[ANSWERABLE[0]]}/feedback", json={"rating": "up"}).status_code == 201

        assert (
            "writer role" in assert_contract(client.get("/v1/collections/hr/insights", headers=reader), 403)["message"]
        )
        response = client.get("/v1/collections/hr/insights")
        assert response.status_code == 200, response.text
        found = response.json()
        assert (found["questions"], found["answered"], found["abstained"]) == (7, 2, 5)
        assert found["answered_share"] == pytest.approx(2 / 7, abs=1e-3)
        assert found["abstained_by_reason"] == {"no_relevant_sources": 5}
        assert found["ratings"] == {"up": 1, "down": 1}
        assert [(d["question"], d["comment"], d["source"]) for d in found["down_voted"]] == [
            (ANSWERABLE[1], "needs the robot manual", "robot-manual.pdf")
        ]
        topics = [(t["count"], set(t["examples"])) for t in found["unanswered_topics"]]
        assert topics == [(3, set(PARKING)), (2, set(CANTEEN))]
        assert [d["document_id"] for d in found["never_cited"]] == ["security.txt"]

        future = client.get("/v1/collections/hr/insights", params={"since": "2999-01-01"}).json()
        assert future["questions"] == 0 and future["unanswered_topics"] == []
        assert_contract(client.get("/v1/collections/nope/insights"), 404)

    env = {**os.environ, "RAG_DATA_DIR": str(tmp_path / "data"), "RAG_DATABASE_URL": engine.get("database_url", "")}
    command = [sys.executable, "-m", "cli", "insights", "hr", "--json", "--days", "1"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    from_cli = json.loads(done.stdout)
    assert from_cli["questions"] == 7 and [t["count"] for t in from_cli["unanswered_topics"]] == [3, 2]
    table = subprocess.run(command[:-3], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert table.returncode == 0 and "Where can visitors park their cars?" in table.stdout
    missing = subprocess.run([*command[:4], "nope"], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert missing.returncode != 0 and "not found" in missing.stderr
