"""A client that disconnects mid-stream stops the generation: the real `rag serve`, the local SmolLM2.

The local backend runs one generation at a time (llama.cpp is not thread-safe, so a lock guards the
model). If a stream whose client went away kept generating, every other query would wait behind it.
So: start a long streamed answer, hang up after its first delta, and check what the server says it did
(it logs each generation it cancels for a caller that left, and each request as it ends) and that the
model, free again, answers the next query. Nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.config import Settings
from rag.retrieval.embeddings import SentenceTransformerEmbedder
from tests.conftest import BIN, free_port, ingest_knowledge, server_process
from tests.waiting import DEADLINE_S, wait_until

pytestmark = pytest.mark.slow

# Retrieves leave.txt (so no abstention) and makes SmolLM2 write on and on. With temperature 1.0 and
# seed 1 the answer runs to the full 1500 tokens (finish_reason "length"); other seeds stopped by
# themselves after ~650 tokens, still ~20 s of generation.
LONG_ANSWER: dict[str, Any] = {
    # Worded with the collection's own words, so the answerability check lets it through to the model.
    "question": "Annual leave: how many days of paid annual leave do full-time employees receive per year, and how"
    " are leave requests made in PeopleHub? Write a very long and detailed essay about annual leave.",
    "collection": "kb1", "stream": True, "max_tokens": 1500, "temperature": 1.0, "stop": [], "seed": 1,
}  # fmt: skip
SHORT_ANSWER = {"question": "How many days of annual leave do full-time employees get?", "collection": "kb1",
                "max_tokens": 8}  # fmt: skip

# "local generation cancelled: stopped N ms after the caller left, P pieces in" (rag/backends/local.py)
CANCELLED = re.compile(r"local generation cancelled: stopped (\d+) ms after the caller left, (\d+) pieces in")


@contextmanager
def rag_serve(data_dir: Path, log_path: Path) -> Iterator[str]:
    """`rag serve` as a subprocess on a free port, stderr (the app's log) to `log_path`; yields its URL."""
    port = free_port()
    # The local model generates (its default answer mode quotes sources instead and streams at once).
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {
        "RAG_DATA_DIR": str(data_dir),
        "RAG_ANSWER_MODE": "generate",
    }
    command = [str(BIN / "rag"), "serve", "--port", str(port)]
    # cwd: no stray .env file; the app's log goes to log_path
    with server_process(command, "/health", port, log_path, timeout=600, cwd=log_path.parent, env=env) as url:
        yield url


def short_query(url: str) -> httpx.Response:
    response = httpx.post(f"{url}/v1/query", json=SHORT_ANSWER, timeout=DEADLINE_S)
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["completion_tokens"] > 0
    return response


def log_showing(log_path: Path, *patterns: re.Pattern[str]) -> str:
    """The server's log once every pattern is in it, else ''."""
    log = log_path.read_text()
    return log if all(pattern.search(log) for pattern in patterns) else ""


def read_until_first_delta(response: httpx.Response) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for line in response.iter_lines():
        if line.startswith("data:"):
            events.append(json.loads(line[5:]))
            if events[-1]["type"] == "delta":
                break
    return events


def test_a_client_that_disconnects_mid_stream_stops_the_generation(
    settings: Settings, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    ingest_knowledge(settings)
    log_path = tmp_path / "server.log"
    with rag_serve(settings.data_dir, log_path) as url:
        short_query(url)  # loads the model

        with httpx.Client(timeout=DEADLINE_S) as client:
            with client.stream("POST", f"{url}/v1/query", json=LONG_ANSWER) as response:
                assert response.status_code == 200
                stream_trace_id = response.headers["x-trace-id"]
                events = read_until_first_delta(response)
            # Leaving the block closes the connection with the body unread: the client went away.
        assert events[0]["type"] == "sources" and events[0]["abstained"] is False
        assert events[-1]["type"] == "delta" and events[-1]["text"]

        # The server stopped the model for the client that left (a generation that ran on to its end
        # would log no cancellation) and finished that request; the model's place is free again.
        finished = re.compile(rf"POST /v1/query 200 [\d.]+ms traceId={stream_trace_id}")
        log = wait_until(lambda: log_showing(log_path, finished, CANCELLED), "the abandoned stream never ended")
        [(stopped_ms, pieces)] = CANCELLED.findall(log)
        assert int(stopped_ms) < 1000 and int(pieces) < LONG_ANSWER["max_tokens"], log
        wait_until(lambda: httpx.get(f"{url}/health", timeout=30).json()["generation"]["tickets"] == 0,
                   "the abandoned generation kept its place in the queue")  # fmt: skip

        short = short_query(url)  # the next client gets its answer
    log = log_path.read_text()
    assert "traceId=" in log and f"traceId={short.headers['x-trace-id']}" in log
