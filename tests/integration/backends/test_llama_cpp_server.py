"""/v1/query against a REAL llama.cpp server (llama-cpp-python's OpenAI-compatible server, SmolLM2).

The fakes in tests/fakes.py check our side of the wire protocol; these tests check that a real
llama.cpp server understands what we send (sampling parameters, streaming, max_tokens) and that what
it answers fits our contract. The server is started once per session (fixture `llama_cpp_server`).
"""

from __future__ import annotations

import asyncio

import pytest

from rag.backends.base import Message, SamplingParams
from rag.backends.openai_compat import OpenAICompatBackend
from rag.config import Settings
from rag.retrieval.embeddings import SentenceTransformerEmbedder
from tests.conftest import api_client, ingest_knowledge
from tests.integration.backends.test_api_backends import sse_events

pytestmark = pytest.mark.slow

QUESTION = {"question": "How many days of annual leave do full-time employees get?", "collection": "kb1"}
MESSAGES = [Message("user", "Name three colours of the rainbow.")]
# Every sampling parameter our API takes; a real server must accept them all (no 4xx).
ALL_SAMPLING = {"temperature": 0.0, "seed": 7, "top_k": 40, "min_p": 0.05, "top_p": 0.95, "repetition_penalty": 1.1,
                "presence_penalty": 0.1, "frequency_penalty": 0.1}  # fmt: skip


def on_llama_cpp(settings: Settings, server_url: str) -> Settings:
    """Settings whose chat backend is the real llama.cpp server; no retries, so a first failure shows."""
    fields = {
        "chat_base_url": server_url + "/v1",
        "chat_model": "smollm2",
        "chat_max_retries": 0,
        "chat_timeout_s": 120.0,
    }
    return settings.model_copy(update=fields)


@pytest.fixture
def kb_settings(settings: Settings, embedder: SentenceTransformerEmbedder, llama_cpp_server: str) -> Settings:
    ingest_knowledge(settings)
    return on_llama_cpp(settings, llama_cpp_server)


def test_real_llama_cpp_server_answers_with_sources_usage_and_finish_reason(kb_settings: Settings) -> None:
    with api_client(kb_settings) as client:
        response = client.post("/v1/query", json={**QUESTION, "temperature": 0, "seed": 1, "max_tokens": 64})
    assert response.status_code == 200, response.text
    data = response.json()
    # The tiny model's text may not survive the citation check (then it is withheld): either way the
    # sources, usage and finish reason are the real server's.
    assert data["answer"].strip() and data["finish_reason"] in ("stop", "length") and data["model"] == "smollm2"
    sources = data["related"] if data["abstained"] else data["sources"]
    assert sources and sources[0]["n"] == 1 and sources[0]["filename"] == "leave.txt"
    usage = data["usage"]
    assert usage["prompt_tokens"] > 0 and 0 < usage["completion_tokens"] <= 64
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_real_llama_cpp_server_streams_sources_then_deltas_then_done(kb_settings: Settings) -> None:
    with api_client(kb_settings) as client:
        response = client.post("/v1/query", json={**QUESTION, "stream": True, "temperature": 0, "max_tokens": 64})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    head, *middle, final, done, end = sse_events(response.text)
    assert head["type"] == "sources" and head["abstained"] is False and head["model"] == "smollm2"
    assert head["sources"][0]["n"] == 1 and head["sources"][0]["filename"] == "leave.txt"
    assert middle and all(e["type"] == "delta" and e["text"] for e in middle)
    assert "".join(e["text"] for e in middle).strip()
    assert final["type"] == "citations" and final["answer"].strip()
    assert done["type"] == "done" and done["finish_reason"] in ("stop", "length")
    # llama-cpp-python's server sends no usage chunk in streams: the counts are our estimate, still > 0.
    assert done["usage"]["prompt_tokens"] > 0 and done["usage"]["completion_tokens"] > 0
    assert end == "[DONE]"


def test_max_tokens_cuts_the_answer_with_finish_reason_length(kb_settings: Settings) -> None:
    with api_client(kb_settings) as client:
        data = client.post("/v1/query", json={**QUESTION, "temperature": 0, "max_tokens": 5}).json()
        streamed = sse_events(
            client.post("/v1/query", json={**QUESTION, "stream": True, "temperature": 0, "max_tokens": 5}).text
        )
    assert data["finish_reason"] == "length", data
    assert 0 < data["usage"]["completion_tokens"] <= 5 and data["answer"].strip()
    done = streamed[-2]
    assert done["type"] == "done" and done["finish_reason"] == "length"
    assert 1 <= sum(1 for e in streamed if isinstance(e, dict) and e["type"] == "delta") <= 5


def test_every_sampling_parameter_is_accepted_by_a_real_llama_cpp_server(
    settings: Settings, llama_cpp_server: str
) -> None:
    backend = OpenAICompatBackend(on_llama_cpp(settings, llama_cpp_server))

    async def run(params: SamplingParams) -> tuple[str, str, list[str], str | None]:
        completion = await backend.complete(MESSAGES, params)  # a 4xx would raise BackendError
        pieces, finish = [], None
        async for delta in backend.stream(MESSAGES, params):
            pieces.append(delta.text)
            finish = delta.finish_reason or finish
        return completion.text, completion.finish_reason, pieces, finish

    async def both() -> tuple[tuple[str, str, list[str], str | None], str]:
        try:
            first = await run(SamplingParams(max_tokens=24, **ALL_SAMPLING))
            other = await backend.complete(MESSAGES, SamplingParams(max_tokens=24, **{**ALL_SAMPLING, "seed": 12345}))
            return first, other.text
        finally:
            await backend.client.close()

    (text, finish_reason, pieces, stream_finish), other_seed_text = asyncio.run(both())
    assert text.strip() and finish_reason in ("stop", "length")
    assert "".join(pieces).strip() and stream_finish in ("stop", "length")
    # temperature=0 reached the server: greedy decoding ignores the seed (its default, 0.8, would not).
    assert other_seed_text == text


def test_repetition_penalty_changes_what_a_real_llama_cpp_server_generates(
    settings: Settings, llama_cpp_server: str
) -> None:
    backend = OpenAICompatBackend(on_llama_cpp(settings, llama_cpp_server))
    counting = [Message("user", "List the numbers from one to thirty, one per line, written as words.")]

    async def greedy_with_and_without_penalty() -> tuple[str, str]:
        def params(**penalty: float) -> SamplingParams:
            return SamplingParams(max_tokens=60, temperature=0.0, **penalty)  # type: ignore[arg-type]

        try:
            with_penalty = await backend.complete(counting, params(repetition_penalty=3.0))
            without = await backend.complete(counting, params())
            return with_penalty.text, without.text
        finally:
            await backend.client.close()

    # Checked by hand with curl: "repeat_penalty": 3.0 changes this greedy answer, "repetition_penalty" does not.
    with_penalty, without = asyncio.run(greedy_with_and_without_penalty())
    assert with_penalty != without
