"""The chat model's bounded queue and work that stops when nobody waits, over real HTTP.

The service runs under uvicorn on a real socket; the chat backend is a fake OpenAI-compatible server
(tests/fakes.py, `token_delay_s`) that takes its time per token and records the moment it notices its
client (our service) hang up, so "the backend stopped working" is observed where it happens.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.config import Settings
from tests.conftest import ingest_knowledge
from tests.fakes import FakeServer, fake_llama_api_server, fake_openai_server

QUESTION = "How many days of annual leave do full-time employees get?"
QUERY = {"question": QUESTION, "collection": "kb1", "max_tokens": 400}
CHAT = {"messages": [{"role": "user", "content": QUESTION}], "collection": "kb1", "max_tokens": 400}
LONG_REPLY = " ".join(["Full-time employees receive 25 days of paid annual leave per year [1]."] * 40)
# Stopping "within a second" of the client leaving, measured from the moment the client closed its socket.
STOP_WITHIN_S = 1.0


def wait_until(condition: Callable[[], Any], timeout: float = 30.0, every: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s")


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
    """A model that takes 0.1 s per word of a 480-word answer (about 50 s), first word after 0.3 s."""
    with fake_openai_server(reply=LONG_REPLY, first_token_delay_s=0.3, token_delay_s=0.1) as fake:
        yield fake


class Background:
    """Requests sent on raw sockets and left waiting; `close_all()` hangs up on them, as a client that gives up."""

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []

    def post(self, url: str, body: dict[str, Any]) -> None:
        parsed = httpx.URL(url)
        payload = json.dumps(body).encode()
        sock = socket.create_connection((parsed.host, parsed.port or 80), timeout=30)
        head = (f"POST {parsed.raw_path.decode()} HTTP/1.1\r\nHost: {parsed.host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")  # fmt: skip
        sock.sendall(head.encode() + payload)
        self.sockets.append(sock)

    def close_all(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.sockets = []


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
    wait_until(lambda: generation(url)["tickets"] == 3 and slow_backend.calls == 1)

    completion = {"model": "rag", "prompt": QUESTION, "collection": "kb1"}
    summary = {"text": "Full-time employees receive 25 days of paid annual leave per year.", "stream": True}
    for path, body in (
        ("/v1/query", QUERY), ("/v1/query", {**QUERY, "stream": True}), ("/v1/chat/completions", CHAT),
        ("/v1/completions", completion), ("/v1/summarize", summary), ("/v1/summarize", {**summary, "stream": False}),
    ):  # fmt: skip
        started = time.monotonic()
        response = httpx.post(f"{url}{path}", json=body, timeout=30)
        waited = time.monotonic() - started
        error = assert_contract(response, 429)
        assert "busy" in error["message"] and "RAG_GENERATION_QUEUE" in error["message"]
        assert int(response.headers["retry-after"]) >= 1
        assert waited < 2.0, f"{path} took {waited:.2f}s to refuse"

    # Search and document routes never wait behind generation.
    for _ in range(5):
        started = time.monotonic()
        search = httpx.post(f"{url}/v1/search", json={"query": "annual leave", "collection": "kb1"}, timeout=30)
        documents = httpx.get(f"{url}/v1/collections/kb1/documents", timeout=30)
        assert search.status_code == 200 and search.json()["results"]
        assert documents.status_code == 200 and documents.json()["total"] == 3
        assert time.monotonic() - started < 2.0
    assert slow_backend.calls == 1  # the refused requests never reached the model

    background.close_all()  # everyone leaves: the line empties and the model stops
    wait_until(lambda: generation(url)["tickets"] == 0, timeout=10)
    assert wait_until(lambda: slow_backend.hangup_times, timeout=10)
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
        with httpx.Client(timeout=httpx.Timeout(30, read=1.5)) as client:
            if when == "after_first_token":
                with client.stream("POST", f"{url}{path}", json=body) as response:
                    assert response.status_code == 200
                    assert _events_until_first_text(response)
            else:  # the model is still working (or has not said a word) when the client gives up
                with pytest.raises(httpx.ReadTimeout):
                    client.post(f"{url}{path}", json=body)
        left = time.monotonic()  # the connection is closed now
        stopped = wait_until(lambda: fake.hangup_times, timeout=10)[0]
        assert stopped - left < STOP_WITHIN_S, f"the backend went on {stopped - left:.2f}s after the client left"
        assert fake.completed == 0
        wait_until(lambda: generation(url)["tickets"] == 0, timeout=STOP_WITHIN_S)


def test_a_client_that_leaves_the_queue_frees_its_place_and_never_reaches_the_model(
    start_service: Callable[..., str], slow_backend: FakeServer, background: Background
) -> None:
    url = start_service(slow_backend.base_url, generation_concurrency=1, generation_queue=1)
    background.post(f"{url}/v1/query", QUERY)  # holds the model
    wait_until(lambda: slow_backend.calls == 1)
    with httpx.Client(timeout=httpx.Timeout(30, read=1.0)) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post(f"{url}/v1/query", json=QUERY)  # waits in line, then gives up
    left = time.monotonic()
    wait_until(lambda: generation(url)["waiting"] == 0 and generation(url)["tickets"] == 1, timeout=STOP_WITHIN_S)
    assert time.monotonic() - left < STOP_WITHIN_S
    # Its place is free again: the next client queues instead of getting 429.
    with httpx.Client(timeout=httpx.Timeout(30, read=1.0)) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post(f"{url}/v1/query", json=QUERY)
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
            assert time.monotonic() - started < 5
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
