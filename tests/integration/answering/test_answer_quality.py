"""What users judge answers by: verified citations, honest abstention, questions about the collection.

A fake OpenAI-compatible backend (real HTTP) plays the model, so each test controls what the model
"wrote" and checks what the service makes of it; the local-model tests use the packaged SmolLM2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.config import Settings
from tests.conftest import KNOWLEDGE, api_client, ingest_knowledge
from tests.fakes import fake_openai_server
from tests.integration.backends.test_api_backends import QUESTION, sse_events, with_backend


@pytest.fixture
def kb_settings(tmp_path: Path, embedder) -> Settings:  # type: ignore[no-untyped-def]
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    ingest_knowledge(settings)
    return settings


def ask(settings: Settings, reply: str, body: dict | None = None) -> tuple[dict, object]:
    with fake_openai_server(reply=reply) as fake:
        with api_client(with_backend(settings, fake.base_url)) as client:
            response = client.post("/v1/query", json=body or QUESTION)
    assert response.status_code == 200, response.text
    return response.json(), fake


def test_a_supported_sentence_without_a_marker_gets_one_with_its_quote(kb_settings: Settings) -> None:
    data, _ = ask(kb_settings, "Full-time employees receive 25 days of paid annual leave per year.")
    assert data["answer"] == "Full-time employees receive 25 days of paid annual leave per year [1]."
    [citation] = data["citations"]
    source = data["sources"][citation["n"] - 1]
    assert source["filename"] == "leave.txt"
    assert data["answer"][citation["start"] : citation["end"]].startswith("Full-time employees receive 25 days")
    assert source["text"][citation["quote_start"] : citation["quote_end"]] == citation["quote"]
    assert "25 days" in citation["quote"] and data["grounded"] == 1.0 and data["unsupported"] == []


def test_a_marker_pointing_at_the_wrong_source_is_moved(kb_settings: Settings) -> None:
    question = {"question": "How many days of annual leave do employees get, and how long are passwords?",
                "collection": "kb1"}  # fmt: skip
    data, _ = ask(kb_settings, "Employees get 25 days of paid annual leave per year [2].", question)
    by_name = {s["filename"]: s["n"] for s in data["sources"]}
    assert f"[{by_name['leave.txt']}]" in data["answer"]
    assert all(c["n"] == by_name["leave.txt"] for c in data["citations"])


def test_an_invented_answer_becomes_an_abstention_with_related_sources(kb_settings: Settings) -> None:
    data, fake = ask(kb_settings, "Employees get 40 days of leave and a company car [1].")
    assert fake.calls == 1  # the model was asked, and its text was checked
    assert data["abstained"] is True and data["abstain_reason"] == "unsupported_answer"
    assert "40 days" not in data["answer"] and data["sources"] == []
    assert [s["filename"] for s in data["related"]][0] == "leave.txt"


def test_a_question_about_something_the_documents_never_mention_abstains_before_the_model(
    kb_settings: Settings,
) -> None:
    question = {"question": "How do I pair the RX-200 with a HomeKitBridge hub?", "collection": "kb1"}
    data, fake = ask(kb_settings, "Pair it in the app [1].", question)
    assert data["abstained"] is True and data["abstain_reason"] == "no_relevant_sources"
    assert fake.calls == 0 and data["related"]


def test_what_are_these_documents_about_lists_the_documents(kb_settings: Settings) -> None:
    data, fake = ask(kb_settings, "unused", {"question": "What are these documents about?", "collection": "kb1"})
    assert fake.calls == 0 and data["abstained"] is False and data["mode"] == "overview"
    for name in KNOWLEDGE:
        assert name in data["answer"]
    assert len(data["citations"]) == len(KNOWLEDGE) == len(data["sources"])


def test_streaming_sends_the_checked_answer_before_done(kb_settings: Settings) -> None:
    with fake_openai_server(reply="Full-time employees receive 25 days of paid annual leave.") as fake:
        with api_client(with_backend(kb_settings, fake.base_url)) as client:
            response = client.post("/v1/query", json={**QUESTION, "stream": True})
    events = sse_events(response.text)
    kinds = [e["type"] if isinstance(e, dict) else e for e in events]
    assert kinds[0] == "sources" and kinds[-3:] == ["citations", "done", "[DONE]"]
    final = events[-3]
    assert final["answer"].endswith("[1].") and final["citations"][0]["n"] == 1 and final["grounded"] == 1.0


def test_chat_completions_carry_the_verification(kb_settings: Settings) -> None:
    messages = [{"role": "user", "content": QUESTION["question"]}]
    with fake_openai_server(reply="Full-time employees receive 25 days of paid annual leave.") as fake:
        with api_client(with_backend(kb_settings, fake.base_url, default_collection="kb1")) as client:
            whole = client.post("/v1/chat/completions", json={"messages": messages}).json()
            streamed = client.post("/v1/chat/completions", json={"messages": messages, "stream": True})
    assert whole["choices"][0]["message"]["content"].endswith("[1].")
    assert whole["verification"]["citations"][0]["n"] == 1
    chunks = [e for e in sse_events(streamed.text) if isinstance(e, dict)]
    last = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]][-1]
    assert last["verification"]["citations"][0]["quote"] and last["choices"][0]["finish_reason"] == "stop"


@pytest.mark.slow
def test_local_default_answers_the_readme_question_with_a_cited_number(kb_settings: Settings) -> None:
    """The README's own example, on the local defaults (no server, packaged models)."""
    with api_client(kb_settings) as client:
        data = client.post("/v1/query", json=QUESTION).json()
    assert data["abstained"] is False and "25" in data["answer"]
    assert data["citations"] and data["sources"][data["citations"][0]["n"] - 1]["filename"] == "leave.txt"
    assert json.dumps(data)  # the whole response is plain JSON
