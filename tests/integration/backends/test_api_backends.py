"""/v1/query against chat backends that fail in every way, over real HTTP (tests/fakes.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.config import Settings
from tests.conftest import api_client, ingest_knowledge
from tests.fakes import fake_llama_api_server, fake_openai_server

QUESTION = {"question": "How many days of annual leave do full-time employees get?", "collection": "kb1"}


@pytest.fixture
def kb_settings(tmp_path: Path, embedder) -> Settings:  # type: ignore[no-untyped-def]
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    ingest_knowledge(settings)
    return settings


def with_backend(settings: Settings, base_url: str, **changes: object) -> Settings:
    fields = {"chat_base_url": base_url, "chat_timeout_s": 2.0, "chat_max_retries": 1, **changes}
    return settings.model_copy(update=fields)


def sse_events(text: str) -> list[object]:
    events = []
    for line in text.splitlines():
        if line.startswith("data:"):
            body = line[5:].strip()
            events.append(body if body == "[DONE]" else json.loads(body))
    return events


def assert_contract(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status and error["message"]
    assert error["traceId"] == response.headers["x-trace-id"] == response.headers["x-request-id"]
    assert error["type"] and "param" in error  # OpenAI's fields beside ours
    return error


def test_answer_cites_numbered_sources_and_reports_usage(kb_settings: Settings) -> None:
    with fake_openai_server(reply="Full-time employees get 25 days [1].") as fake:
        with api_client(with_backend(kb_settings, fake.base_url, chat_model="llama-test")) as client:
            sampling = {"temperature": 0.2, "top_k": 40, "min_p": 0.05, "max_tokens": 64, "seed": 7, "stop": ["\n\n"]}
            penalties = {"repetition_penalty": 1.1, "presence_penalty": 0.1, "frequency_penalty": 0.2}
            body = {**QUESTION, **sampling, **penalties}
            response = client.post("/v1/query", json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["answer"] == "Full-time employees get 25 days [1]."
    assert data["abstained"] is False and data["finish_reason"] == "stop" and data["model"] == "llama-test"
    assert data["sources"][0]["n"] == 1 and data["sources"][0]["filename"] == "leave.txt"
    assert data["usage"]["total_tokens"] == data["usage"]["prompt_tokens"] + data["usage"]["completion_tokens"] > 0
    sent = fake.requests[-1].json
    assert {k: sent[k] for k in ("temperature", "top_k", "min_p", "max_tokens", "seed", "stop")} == {
        "temperature": 0.2, "top_k": 40, "min_p": 0.05, "max_tokens": 64, "seed": 7, "stop": ["\n\n"]}  # fmt: skip
    assert sent["repetition_penalty"] == 1.1 and sent["frequency_penalty"] == 0.2
    system, user = sent["messages"]
    assert system["role"] == "system" and "only" in system["content"] and "[1]" in system["content"]
    assert user["content"].startswith(f"Question: {QUESTION['question']}\n\n<context>\n[1] (leave.txt)")
    assert "25 days" in user["content"]
    assert user["content"].endswith("Question: " + QUESTION["question"])


def test_streaming_sends_sources_then_deltas_then_usage_then_done(kb_settings: Settings) -> None:
    with fake_openai_server(reply="Twenty five days [1].") as fake:
        with api_client(with_backend(kb_settings, fake.base_url)) as client:
            response = client.post("/v1/query", json={**QUESTION, "stream": True})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    head, *middle, final, done, end = events
    assert head["type"] == "sources" and head["sources"][0]["n"] == 1 and head["abstained"] is False
    assert "".join(e["text"] for e in middle) == "Twenty five days [1]."
    assert final["type"] == "citations" and "answer" in final and "citations" in final
    assert done["type"] == "done" and done["finish_reason"] == "stop" and done["usage"]["completion_tokens"] > 0
    assert end == "[DONE]"


def test_nothing_relevant_abstains_without_calling_the_backend(kb_settings: Settings) -> None:
    with fake_openai_server() as fake:
        with api_client(with_backend(kb_settings, fake.base_url)) as client:
            response = client.post(
                "/v1/query", json={"question": "Who won the 1974 football world cup final?", "collection": "kb1"}
            )
    data = response.json()
    assert data["abstained"] is True and data["sources"] == [] and "cannot answer" in data["answer"]
    assert fake.calls == 0


def test_backend_500_becomes_502(kb_settings: Settings) -> None:
    with fake_openai_server("error500") as fake:
        with api_client(with_backend(kb_settings, fake.base_url)) as client:
            error = assert_contract(client.post("/v1/query", json=QUESTION), 502)
    assert "500" in error["message"] and fake.calls == 2  # first try + one retry


def test_429_is_retried_with_backoff_and_then_answers(kb_settings: Settings) -> None:
    with fake_openai_server("rate_limited", fail_times=1) as fake:
        with api_client(with_backend(kb_settings, fake.base_url)) as client:
            response = client.post("/v1/query", json=QUESTION)
    assert response.status_code == 200 and fake.calls == 2


def test_a_hanging_backend_becomes_504(kb_settings: Settings) -> None:
    with fake_openai_server("hang", hang_seconds=30) as fake:
        settings = with_backend(kb_settings, fake.base_url, chat_timeout_s=0.5, chat_max_retries=0)
        with api_client(settings) as client:
            assert_contract(client.post("/v1/query", json=QUESTION), 504)
            assert_contract(client.post("/v1/query", json={**QUESTION, "stream": True}), 504)


def test_garbage_from_the_backend_becomes_502(kb_settings: Settings) -> None:
    for mode in ("garbage", "missing_fields"):
        with fake_openai_server(mode) as fake:
            with api_client(with_backend(kb_settings, fake.base_url, chat_max_retries=0)) as client:
                assert_contract(client.post("/v1/query", json=QUESTION), 502)


def test_a_cut_stream_ends_with_an_error_event(kb_settings: Settings) -> None:
    with fake_openai_server("cut_stream", reply="one two three four five six seven") as fake:
        with api_client(with_backend(kb_settings, fake.base_url, chat_max_retries=0)) as client:
            response = client.post("/v1/query", json={**QUESTION, "stream": True})
    events = sse_events(response.text)
    assert events[0]["type"] == "sources"
    error = events[-2]
    assert error["type"] == "error" and error["error"]["code"] == 502 and events[-1] == "[DONE]"
    assert not any(isinstance(e, dict) and e.get("type") == "done" for e in events)


def test_llama_api_native_format_answer_and_stream(kb_settings: Settings) -> None:
    with fake_llama_api_server(reply="Full-time employees receive 25 days [1].") as fake:
        settings = with_backend(kb_settings, fake.base_url, chat_backend="llama-api", chat_api_key="secret")
        with api_client(settings) as client:
            data = client.post("/v1/query", json={**QUESTION, "max_tokens": 50}).json()
            streamed = sse_events(client.post("/v1/query", json={**QUESTION, "stream": True}).text)
    assert data["answer"] == "Full-time employees receive 25 days [1]." and data["finish_reason"] == "stop"
    assert data["usage"]["prompt_tokens"] > 0 and data["usage"]["completion_tokens"] == 6
    sent = fake.requests[0]
    assert sent.json["max_completion_tokens"] == 50 and sent.headers["Authorization"] == "Bearer secret"
    assert "".join(e["text"] for e in streamed if isinstance(e, dict) and e["type"] == "delta") == data["answer"]
    assert streamed[-3]["type"] == "citations" and streamed[-3]["answer"] == data["answer"]
    assert streamed[-2]["type"] == "done" and streamed[-2]["usage"]["completion_tokens"] == 6


def test_llama_api_failures_map_to_502_and_504(kb_settings: Settings) -> None:
    with fake_llama_api_server("error500") as fake:
        with api_client(with_backend(kb_settings, fake.base_url, chat_backend="llama-api")) as client:
            assert_contract(client.post("/v1/query", json=QUESTION), 502)
        assert fake.calls == 2
    with fake_llama_api_server("hang") as fake:
        settings = with_backend(kb_settings, fake.base_url, chat_backend="llama-api", chat_timeout_s=0.5,
                                chat_max_retries=0)  # fmt: skip
        with api_client(settings) as client:
            assert_contract(client.post("/v1/query", json=QUESTION), 504)


def test_context_budget_drops_the_lowest_ranked_chunks(kb_settings: Settings) -> None:
    with fake_openai_server(reply="Full-time employees receive 25 days of paid annual leave [1].") as fake:
        with api_client(with_backend(kb_settings, fake.base_url, chat_context_window=420)) as client:
            data = client.post("/v1/query", json={**QUESTION, "max_tokens": 64}).json()
            too_big = client.post("/v1/query", json={**QUESTION, "max_tokens": 400})
    assert 1 <= len(data["sources"]) < 3
    assert data["sources"][0]["filename"] == "leave.txt"
    assert_contract(too_big, 400)
