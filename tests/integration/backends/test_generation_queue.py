"""The chat model's bounded queue and work that stops when nobody waits, over real HTTP.

The service runs under uvicorn on a real socket; the chat backend is a fake OpenAI-compatible server
(tests/fakes.py, `token_delay_s`) that takes its time per token and records the moment it notices its
client (our service) hang up, so "the backend stopped working" is observed where it happens. Clients
leave when the fake or /health shows the moment they want (the model has the request, the request waits
in line), never after a guessed time: how long the service takes to get there depends on the machine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.config import Settings
from tests.conftest import ingest_knowledge
from tests.fakes import FakeServer, fake_llama_api_server, fake_openai_server
from tests.waiting import DEADLINE_S, PendingRequest, wait_until

QUESTION = "How many days of annual leave do full-time employees get?"
QUERY = {"question": QUESTION, "collection": "kb1", "max_tokens": 400}
CHAT = {"messages": [{"role": "user", "content": QUESTION}], "collection": "kb1", "max_tokens": 400}
LONG_REPLY = " ".join(["Full-time employees receive 25 days of paid annual leave per year [1]."] * 100)
# Stopping "within a second" of the client leaving, measured from the moment the client closed its socket.
STOP_WITHIN_S = 1.0
# "At once" for work that never waits for the model: far below the two minutes of a queued answer, and
# above what a search takes on a loaded 2-core machine.
AT_ONCE_S = 10.0


def generation(url: str) -> dict[str, int]:
    return httpx.get(f"{url}/health", timeout=10).json()["generation"]


@pytest.fixture
def start_service(tmp_path: Path, embedder, live_server) -> Callable[..., str]:  # type: ignore[no-untyped-def]
    """The service over the small knowledge collection, generating with the given backend settings."""
    ingest_knowledge(Settings(_env_file=None, data_dir=tmp_path / "data"))  # type: ignore[call-arg]

    def start(base_url: str, **changes: object) -> str:
        return live_server(**{"chat_base_url": base_url, "answer_mode": "generate", "chat_max_retries": 0, **changes})

    return start


@pytest.fixture
def slow_backend() -> Iterator[FakeServer]:
    """A model that takes 0.1 s per word of a 1,200-word answer (two minutes), first word after 0.3 s."""
    with fake_openai_server(reply=LONG_REPLY, first_token_delay_s=0.3, token_delay_s=0.1) as fake:
        yield fake


class Background:
    """Requests sent on raw sockets and left waiting; `close_all()` hangs up on them, as a client that gives up."""

    def __init__(self) -> None:
        self.requests: list[PendingRequest] = []

    def post(self, url: str, body: dict[str, Any]) -> PendingRequest:
        self.requests.append(PendingRequest(url, body))
        return self.requests[-1]

    def close_all(self) -> None:
        for request in self.requests:
            request.hang_up()
        self.requests = []


@pytest.fixture
def background() -> Iterator[Background]:
    requests = Background()
    yield requests
    requests.close_all()


def assert_contract(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status and error["message"]
    assert error["traceId"] == response.headers["x-trace-id"]
    return error


def test_a_full_queue_answers_429_at_once_while_search_and_documents_stay_fast(
    start_service: Callable[..., str], slow_backend: FakeServer, background: Background
) -> None:
    url = start_service(slow_backend.base_url, generation_concurrency=1, generation_queue=2)
    for _ in range(3):  # one generating, two waiting: the queue is full
        background.post(f"{url}/v1/query", QUERY)
    wait_until(lambda: generation(url)["tickets"] == 3 and slow_backend.calls == 1, "the line never filled")

    def in_line_still() -> bool:  # answered while the first answer is being written: it waited behind nothing
        return slow_backend.completed == 0 and generation(url)["tickets"] == 3

    completion = {"model": "rag", "prompt": QUESTION, "collection": "kb1"}
    summary = {"text": "Full-time employees receive 25 days of paid annual leave per year.", "stream": True}
    for path, body in (
        ("/v1/query", QUERY), ("/v1/query", {**QUERY, "stream": True}), ("/v1/chat/completions", CHAT),
        ("/v1/completions", completion), ("/v1/summarize", summary), ("/v1/summarize", {**summary, "stream": False}),
    ):  # fmt: skip
        started = time.monotonic()
        response = httpx.post(f"{url}{path}", json=body, timeout=DEADLINE_S)
        waited = time.monotonic() - started
        error = assert_contract(response, 429)
        assert "busy" in error["message"] and "RAG_GENERATION_QUEUE" in error["message"]
        assert int(response.headers["retry-after"]) >= 1
        assert waited < AT_ONCE_S and in_line_still(), f"{path} took {waited:.2f}s to refuse"

    # Search and document routes never wait behind generation.
    for _ in range(5):
        started = time.monotonic()
        search = httpx.post(f"{url}/v1/search", json={"query": "annual leave", "collection": "kb1"}, timeout=DEADLINE_S)
        documents = httpx.get(f"{url}/v1/collections/kb1/documents", timeout=DEADLINE_S)
        assert search.status_code == 200 and search.json()["results"]
        assert documents.status_code == 200 and documents.json()["total"] == 3
        assert time.monotonic() - started < AT_ONCE_S and in_line_still()
    assert slow_backend.calls == 1  # the refused requests never reached the model

    background.close_all()  # everyone leaves: the line empties and the model stops
    wait_until(lambda: generation(url)["tickets"] == 0, "the line never emptied", timeout=10)
    assert wait_until(lambda: slow_backend.hangup_times, "the model never stopped", timeout=10)
    assert slow_backend.completed == 0


def _events_until_first_text(response: httpx.Response) -> bool:
    for line in response.iter_lines():
        if line.startswith("data:") and line[5:].strip() != "[DONE]":
            event = json.loads(line[5:])
            if event.get("type") == "delta" or any(c["delta"].get("content") for c in event.get("choices", [])):
                return True
    return False


CASES = [
    ("/v1/query", False, "plain"),
    ("/v1/query", True, "before_first_token"),
    ("/v1/query", True, "after_first_token"),
    ("/v1/chat/completions", False, "plain"),
    ("/v1/chat/completions", True, "before_first_token"),
    ("/v1/chat/completions", True, "after_first_token"),
]


@pytest.mark.parametrize(("path", "stream", "when"), CASES, ids=[f"{p[4:]}-{w}" for p, _, w in CASES])
def test_a_client_that_leaves_stops_the_backend_within_a_second(
    start_service: Callable[..., str], path: str, stream: bool, when: str
) -> None:
    first_token_delay = 30.0 if when == "before_first_token" else 0.3
    with fake_openai_server(reply=LONG_REPLY, first_token_delay_s=first_token_delay, token_delay_s=0.1) as fake:
        url = start_service(fake.base_url)
        body = {**(QUERY if path == "/v1/query" else CHAT), "stream": stream}
        if when == "after_first_token":
            with httpx.Client(timeout=DEADLINE_S) as client:
                with client.stream("POST", f"{url}{path}", json=body) as response:
                    assert response.status_code == 200
                    assert _events_until_first_text(response)
            left = time.monotonic()  # the connection is closed now
        else:  # the model is still working (or has not said a word) when the client gives up
            with PendingRequest(f"{url}{path}", body) as client:
                if when == "plain":
                    wait_until(lambda: fake.token_times, "the model never started the answer")
                else:
                    wait_until(lambda: fake.calls, "the request never reached the model")
                left = client.hang_up()
        stopped = wait_until(lambda: fake.hangup_times, "the model never stopped", timeout=10)[0]
        assert stopped - left < STOP_WITHIN_S, f"the backend went on {stopped - left:.2f}s after the client left"
        assert fake.completed == 0 and (when != "before_first_token" or not fake.token_times)
        wait_until(lambda: generation(url)["tickets"] == 0, "the line never emptied", timeout=STOP_WITHIN_S)


def test_a_client_that_leaves_the_queue_frees_its_place_and_never_reaches_the_model(
    start_service: Callable[..., str], slow_backend: FakeServer, background: Background
) -> None:
    url = start_service(slow_backend.base_url, generation_concurrency=1, generation_queue=1)
    background.post(f"{url}/v1/query", QUERY)  # holds the model
    wait_until(lambda: slow_backend.calls == 1, "the first request never reached the model")
    with PendingRequest(f"{url}/v1/query", QUERY) as client:
        wait_until(lambda: generation(url)["waiting"] == 1, "the second request never queued")
        left = client.hang_up()  # it waited in line, then gave up
    wait_until(lambda: generation(url)["waiting"] == 0 and generation(url)["tickets"] == 1, "its place was kept",
               timeout=STOP_WITHIN_S)  # fmt: skip
    assert time.monotonic() - left < STOP_WITHIN_S
    # Its place is free again: the next client queues instead of getting 429.
    with PendingRequest(f"{url}/v1/query", QUERY):
        wait_until(lambda: generation(url)["waiting"] == 1, "the next client did not get the freed place")
    assert slow_backend.calls == 1


@pytest.mark.parametrize("server", [fake_openai_server, fake_llama_api_server], ids=["openai", "llama-api"])
def test_a_backend_retry_after_never_stretches_a_request_past_its_time_budget(
    start_service: Callable[..., str], server: Callable[..., Any]
) -> None:
    # Budget: 5 s timeout x (2 retries + 1) plus 1.5 s of backoff. A Retry-After of 30 s does not fit: the
    # client hears at once, with the backend's Retry-After, instead of waiting 30 s or more.
    with server("rate_limited", retry_after="30") as fake:
        url = start_service(fake.base_url, chat_timeout_s=5, chat_max_retries=2)
        for body in (QUERY, {**QUERY, "stream": True}):
            started = time.monotonic()
            response = httpx.post(f"{url}/v1/query", json=body, timeout=60)
            assert time.monotonic() - started < 30  # not after the Retry-After it could not wait for
            error = assert_contract(response, 503)
            assert "retry after 30" in error["message"] and response.headers["retry-after"] == "30"
        assert fake.calls == 2  # one call per request, no retry that would outlast the budget

    # A Retry-After that fits is honoured: every retry is made, and the request ends within the budget.
    with server("rate_limited", retry_after="1") as fake:
        url = start_service(fake.base_url, chat_timeout_s=5, chat_max_retries=2)
        started = time.monotonic()
        response = httpx.post(f"{url}/v1/query", json=QUERY, timeout=60)
        elapsed = time.monotonic() - started
        assert_contract(response, 502)
        assert fake.calls == 3 and 2.0 <= elapsed < 5 * 3 + 1.5
