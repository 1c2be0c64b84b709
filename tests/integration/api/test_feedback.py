"""The answer log and feedback over real HTTP (uvicorn), on SQLite and on a real PostgreSQL: every answer of
/v1/query (whole or streamed) and /v1/chat/completions can be rated by its id, scoped keys rate only the
answers of their collections, RAG_KEEP_QUESTIONS=false keeps no question, and old rows are purged."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from rag.config import Settings
from rag.storage.answers import AnswerRecord, open_answer_log
from rag.storage.keys import build_key_store
from tests.conftest import ingest_knowledge
from tests.integration.backends.test_api_backends import assert_contract
from tests.waiting import wait_until

QUESTION = "How many days of annual leave do full-time employees get?"
UNANSWERABLE = "What is the boiling point of mercury on Jupiter?"


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for one engine: nothing (SQLite in the data dir) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return {}
    return {"database_url": request.getfixturevalue("database_url")}


def _settings(tmp_path: Any, **changes: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", **changes)  # type: ignore[arg-type]


def _stream_id_and_end(response: httpx.Response) -> tuple[str, dict[str, Any]]:
    events = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data: {")]
    return events[0]["id"], next(e for e in events if e["type"] == "citations")


def test_every_answer_can_be_rated_by_its_id_and_is_kept_with_its_sources(live_server, tmp_path, engine) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(tmp_path, answer_mode="extract", **engine)
    ingest_knowledge(settings, "hr")
    url = live_server(answer_mode="extract", **engine)
    with httpx.Client(base_url=url, timeout=300) as client:
        answered = client.post("/v1/query", json={"question": QUESTION, "collection": "hr"})
        assert answered.status_code == 200 and "25 days" in answered.json()["answer"]
        answer_id = answered.json()["id"]

        first = client.post(f"/v1/answers/{answer_id}/feedback", json={"rating": "up"})
        assert first.status_code == 201, first.text
        assert first.json()["rating"] == "up" and first.json()["collection"] == "hr"
        body = {"rating": "down", "comment": "It is 30 days now", "source": "leave.txt"}
        again = client.post(f"/v1/answers/{answer_id}/feedback", json=body)
        assert again.status_code == 200 and again.json()["comment"] == "It is 30 days now"

        streamed = client.post("/v1/query", json={"question": QUESTION, "collection": "hr", "stream": True})
        stream_id, end = _stream_id_and_end(streamed)
        assert "25 days" in end["answer"]
        assert client.post(f"/v1/answers/{stream_id}/feedback", json={"rating": "up"}).status_code == 201

        messages = [{"role": "user", "content": QUESTION}]
        chat = client.post("/v1/chat/completions", json={"model": "rag", "messages": messages, "collection": "hr"})
        assert chat.status_code == 200, chat.text
        chat_id = chat.json()["id"]
        assert client.post(f"/v1/answers/{chat_id}/feedback", json={"rating": "down"}).status_code == 201

        abstained = client.post("/v1/query", json={"question": UNANSWERABLE, "collection": "hr"}).json()
        assert abstained["abstained"]

        assert_contract(client.post("/v1/answers/ans-nope/feedback", json={"rating": "up"}), 404)
        bad = client.post(f"/v1/answers/{answer_id}/feedback", json={"rating": "meh"})
        assert bad.status_code in (400, 422) and "error" in bad.json()

    log = open_answer_log(settings)
    kept = log.get(answer_id)
    assert kept is not None and kept.question == QUESTION and "25 days" in (kept.answer or "")
    assert [s["document_id"] for s in kept.cited] == ["leave.txt"]
    assert log.feedback(answer_id).source == "leave.txt"  # type: ignore[union-attr]
    assert log.get(chat_id) is not None and log.get(stream_id) is not None
    gave_up = log.get(abstained["id"])
    assert gave_up is not None and gave_up.abstained and gave_up.abstain_reason == abstained["abstain_reason"]
    log.close()


def test_with_keeping_off_feedback_keeps_only_what_the_user_sends(live_server, tmp_path, engine) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(tmp_path, **engine)
    ingest_knowledge(settings, "hr")
    url = live_server(answer_mode="extract", keep_questions=False, **engine)
    with httpx.Client(base_url=url, timeout=300) as client:
        answer_id = client.post("/v1/query", json={"question": QUESTION, "collection": "hr"}).json()["id"]
        rated = client.post(f"/v1/answers/{answer_id}/feedback", json={"rating": "down", "comment": "outdated"})
        assert rated.status_code == 201, rated.text
    log = open_answer_log(settings)
    kept = log.get(answer_id)
    assert kept is not None and kept.question is None and kept.answer is None and kept.sources is None
    assert log.feedback(answer_id).comment == "outdated"  # type: ignore[union-attr]
    log.close()


def test_a_scoped_key_rates_only_answers_of_its_collections(live_server, tmp_path, engine) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(tmp_path, **engine)
    for name in ("hr", "finance"):
        ingest_knowledge(settings, name)
    store = build_key_store(settings)
    hr = {"Authorization": f"Bearer {store.create('hr-reader', 'reader', frozenset({'hr'}))}"}
    finance = {"Authorization": f"Bearer {store.create('fin-reader', 'reader', frozenset({'finance'}))}"}
    store.close()
    url = live_server(answer_mode="extract", **engine)
    with httpx.Client(base_url=url, timeout=300) as client:
        answer_id = client.post("/v1/query", json={"question": QUESTION, "collection": "hr"}, headers=hr).json()["id"]
        outside = client.post(f"/v1/answers/{answer_id}/feedback", json={"rating": "up"}, headers=finance)
        nowhere = client.post("/v1/answers/ans-missing/feedback", json={"rating": "up"}, headers=finance)
        assert assert_contract(outside, 404)["message"].replace(answer_id, "@") == assert_contract(nowhere, 404)[
            "message"
        ].replace("ans-missing", "@")
        assert client.post(f"/v1/answers/{answer_id}/feedback", json={"rating": "up"}, headers=hr).status_code == 201


def test_answers_older_than_the_retention_period_are_purged(live_server, tmp_path, engine) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(tmp_path, **engine)
    ingest_knowledge(settings, "hr")
    log = open_answer_log(settings)
    old = AnswerRecord(
        "ans-old", "hr", "old question", "old answer", [], False, None, "extract", "2020-01-01T00:00:00+00:00"
    )
    log.record(old)
    url = live_server(answer_mode="extract", question_retention_days=30, **engine)
    with httpx.Client(base_url=url, timeout=300) as client:
        new_id = client.post("/v1/query", json={"question": QUESTION, "collection": "hr"}).json()["id"]
        assert_contract(client.post("/v1/answers/ans-old/feedback", json={"rating": "up"}), 404)
    # The log's writer thread purges after keeping the new answer.
    wait_until(lambda: log.get("ans-old") is None and log.get(new_id) is not None, "the old answer purged")
    log.close()


def test_a_deleted_collection_takes_its_answers_feedback_and_sources_with_it(  # type: ignore[no-untyped-def]
    live_server, tmp_path, engine
) -> None:
    settings = _settings(tmp_path, answer_mode="extract", **engine)
    ingest_knowledge(settings, "hr")
    share = tmp_path / "share"
    share.mkdir()
    (share / "wifi.md").write_text("The office wifi password changes every Monday.")
    url = live_server(answer_mode="extract", source_roots=str(tmp_path), source_watch=False, **engine)
    with httpx.Client(base_url=url, timeout=300) as client:
        answer_id = client.post("/v1/query", json={"question": QUESTION, "collection": "hr"}).json()["id"]
        assert client.post(f"/v1/answers/{answer_id}/feedback", json={"rating": "down"}).status_code == 201
        source = {"kind": "folder", "location": str(share), "every_s": 3600}
        added = client.post("/v1/collections/hr/sources", json=source)
        assert added.status_code == 201
        first_sync = f"/v1/jobs/{added.json()['job_id']}"
        wait_until(lambda: client.get(first_sync).json()["status"] in ("done", "failed"), "the first sync ended")

        assert client.delete("/v1/collections/hr").status_code == 204
        assert client.post("/v1/collections", json={"name": "hr"}).status_code == 201
        assert client.get("/v1/collections/hr/sources").json()["sources"] == []  # no sync brings the old back
        insights = client.get("/v1/collections/hr/insights").json()
        assert insights["questions"] == 0 and insights["down_voted"] == []

    log = open_answer_log(settings)
    assert log.get(answer_id) is None and log.feedback(answer_id) is None
