"""POST /v1/summarize and `rag summarize`: short texts, map-reduce over long ones, topics, streaming, errors."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from rag.config import Settings
from tests.conftest import BIN, api_client, ingest_knowledge, make_pdf
from tests.fakes import fake_openai_server
from tests.integration.backends.test_api_backends import assert_contract, sse_events, with_backend

# ~85,000 characters: under RAG_MAX_SUMMARIZE_CHARS, and dozens of times a 2048-token window.
LONG_TEXT = " ".join(f"Section {i}: the committee approved budget line {i} worth {i * 100} euros." for i in range(1200))


@pytest.fixture
def kb_settings(tmp_path: Path, embedder) -> Settings:  # type: ignore[no-untyped-def]
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    ingest_knowledge(settings)
    return settings


def test_short_text_is_one_call_and_the_instruction_reaches_the_prompt(kb_settings: Settings) -> None:
    with fake_openai_server(reply="Leave is 25 days.") as fake:
        with api_client(with_backend(kb_settings, fake.base_url)) as client:
            body = {"text": "Employees get 25 days of leave. Requests go through PeopleHub.",
                    "instruction": "one sentence for an executive", "max_tokens": 40}  # fmt: skip
            data = client.post("/v1/summarize", json=body).json()
    assert data["summary"] == "Leave is 25 days." and data["model_calls"] == 1 and data["sources"] == []
    assert data["usage"]["total_tokens"] > 0 and data["finish_reason"] == "stop"
    user = fake.requests[-1].json["messages"][-1]["content"]
    assert "PeopleHub" in user and user.endswith("one sentence for an executive")
    assert fake.requests[-1].json["max_tokens"] == 40


def test_a_text_too_long_for_the_window_is_summarized_in_map_reduce_steps(kb_settings: Settings) -> None:
    with fake_openai_server(reply="Notes: budget lines approved.") as fake:
        settings = with_backend(kb_settings, fake.base_url, chat_context_window=2048)
        with api_client(settings) as client:
            data = client.post("/v1/summarize", json={"text": LONG_TEXT, "instruction": "3 bullet points"}).json()
    assert data["model_calls"] == len(fake.requests) > 10
    first, last = fake.requests[0].json, fake.requests[-1].json
    assert "one part of a longer document" in first["messages"][-1]["content"]
    assert "3 bullet points" in first["messages"][-1]["content"]  # intermediate steps keep what it needs
    assert last["messages"][-1]["content"].endswith("3 bullet points")
    assert all(len(r.json["messages"][-1]["content"]) // 3 < 2048 for r in fake.requests)  # every call fits


def test_streaming_has_the_query_shape(kb_settings: Settings) -> None:
    with fake_openai_server(reply="A short summary.") as fake:
        with api_client(with_backend(kb_settings, fake.base_url)) as client:
            response = client.post("/v1/summarize", json={"text": "Some text to summarize.", "stream": True})
    events = sse_events(response.text)
    assert events[0]["type"] == "sources" and events[-1] == "[DONE]"
    assert "".join(e["text"] for e in events if isinstance(e, dict) and e["type"] == "delta") == "A short summary."
    assert events[-2]["type"] == "done" and events[-2]["model_calls"] == 1


def test_a_topic_summary_cites_only_retrieved_chunks(kb_settings: Settings) -> None:
    with fake_openai_server(reply="Leave is 25 days [1].") as fake:
        with api_client(with_backend(kb_settings, fake.base_url)) as client:
            data = client.post("/v1/summarize", json={"collection": "kb1", "topic": "annual leave", "top_k": 2}).json()
            retrieved = client.post("/v1/search", json={"query": "annual leave", "collection": "kb1", "top_k": 2})
    ids = [r["chunk_id"] for r in retrieved.json()["results"]]
    assert [s["n"] for s in data["sources"]] == [1, 2]
    assert [s["chunk_ids"][0] for s in data["sources"]] == ids
    prompt = fake.requests[-1].json["messages"][-1]["content"]
    assert "[1] (leave.txt)" in prompt and "[n]" in prompt and "robot.md" not in prompt


def test_a_stored_document_summary_reports_what_it_covered(kb_settings: Settings) -> None:
    with fake_openai_server(reply="E09 is a charging fault.") as fake:
        with api_client(with_backend(kb_settings, fake.base_url)) as client:
            data = client.post("/v1/summarize", json={"collection": "kb1", "document_id": "robot.md"}).json()
    [source] = data["sources"]
    assert source["n"] is None and source["document_id"] == source["filename"] == "robot.md"
    assert source["pages"] == [] and len(source["chunk_ids"]) == 1
    assert "E09" in fake.requests[-1].json["messages"][-1]["content"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"text": "   "}, 400),
        ({}, 400),
        ({"text": "a", "collection": "kb1", "topic": "leave"}, 400),
        ({"document_id": "robot.md"}, 400),
        ({"collection": "kb1", "document_id": "nope.txt"}, 404),
        ({"collection": "nope1", "topic": "x"}, 404),
        ({"text": "x", "max_tokens": 0}, 422),
    ],
)
def test_bad_input_follows_the_contract(kb_settings: Settings, body: dict, status: int) -> None:
    with fake_openai_server() as fake:
        with api_client(with_backend(kb_settings, fake.base_url)) as client:
            assert_contract(client.post("/v1/summarize", json=body), status)
        assert fake.calls == 0


def test_a_backend_failure_midway_is_a_502(kb_settings: Settings) -> None:
    with fake_openai_server("error500") as fake:
        with api_client(with_backend(kb_settings, fake.base_url, chat_max_retries=0)) as client:
            assert_contract(client.post("/v1/summarize", json={"text": LONG_TEXT}), 502)


@pytest.mark.slow
def test_a_long_pdf_with_the_local_model_takes_several_calls_and_respects_max_tokens(
    kb_settings: Settings,
) -> None:
    from ingest.pipeline import Source
    from ingest.service import build_pipeline
    from rag.retrieval.components import build_components

    pages = [
        f"Chapter {i}. The harbour of town {i} handles {i * 1000} containers a year. Its director, Ms. Kade{i}, "
        f"plans a new crane in {2020 + i}. " * 8
        for i in range(1, 13)
    ]
    build_pipeline(build_components(kb_settings)).ingest([Source.from_bytes("harbours.pdf", make_pdf(pages))], "kb1")
    with api_client(kb_settings) as client:  # the default local backend: SmolLM2 with a 2048-token window
        response = client.post(
            "/v1/summarize", json={"collection": "kb1", "document_id": "harbours.pdf", "max_tokens": 48,
                                   "temperature": 0, "instruction": "two sentences"},
        )  # fmt: skip
    data = response.json()
    assert response.status_code == 200, data
    assert data["model_calls"] >= 3 and data["summary"]
    assert data["sources"][0]["pages"] == list(range(1, 13))
    assert len(data["summary"].split()) <= 48  # a word is at least one token
    assert data["usage"]["completion_tokens"] > 48  # the intermediate steps count too
    assert data["model"].startswith("SmolLM2")


def test_cli_summarizes_a_file_without_ingesting_it(tmp_path: Path) -> None:
    pdf = tmp_path / "minutes.pdf"
    pdf.write_bytes(make_pdf(["The board met on Monday.", "The board approved the plan."]))
    with fake_openai_server(reply="The board approved the plan.") as fake:
        env = {**os.environ, "RAG_DATA_DIR": str(tmp_path / "data"), "RAG_CHAT_BASE_URL": fake.base_url}
        result = subprocess.run(
            [str(BIN / "rag"), "summarize", str(pdf), "--instruction", "one line"],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "The board approved the plan." in result.stdout and "1 model call" in result.stderr
    assert "Monday" in fake.requests[-1].json["messages"][-1]["content"]
    assert not (tmp_path / "data" / "registry.sqlite").exists()  # nothing was ingested
