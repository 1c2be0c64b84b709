"""With the local llama.cpp model in the real `rag serve`: work stops when the client leaves, and shutdown is prompt.

The local backend logs how long the model took to stop after its caller left ("local generation
cancelled: stopped N ms after the caller left"); /health shows the model's queue and /metrics how many
answers the model has started writing. All are read here from outside, as an operator would, and a client
leaves when they show the moment it wants (never after a guessed time: how long an answer takes depends
on the machine and its load).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rag.config import Settings
from tests.conftest import BIN, free_port, ingest_knowledge, wait_for_http
from tests.integration.api.test_stream_disconnect import LONG_ANSWER, SHORT_ANSWER
from tests.waiting import DEADLINE_S, PendingRequest, wait_until

pytestmark = pytest.mark.slow

STOP_WITHIN_MS = 1000
GRACE_S = 2
# About 1,900 tokens (nearly the 2,048 window) to read before the first token: seconds on a CPU.
NOTE = "full-time employees receive 25 days of paid annual leave and request it in PeopleHub."
LONG_PROMPT = "Summarize these notes about annual leave in one word. " + " ".join(
    f"Note {i}: {NOTE}" for i in range(75)
)
PLAIN_CHAT = {"messages": [{"role": "user", "content": LONG_PROMPT}], "use_context": False, "stream": True,
              "max_tokens": 64}  # fmt: skip


def start_serve(data_dir: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {
        "RAG_DATA_DIR": str(data_dir), "RAG_ANSWER_MODE": "generate", "RAG_SHUTDOWN_GRACE_S": str(GRACE_S),
    }  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(BIN / "rag"), "serve", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
            cwd=log_path.parent, env=env,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/health", timeout=600, process=proc)  # a loaded machine starts slowly
    return proc, url


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[tuple[str, Path]]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("local-cancel")
    ingest_knowledge(Settings(_env_file=None, data_dir=root / "data"))  # type: ignore[call-arg]
    proc, url = start_serve(root / "data", root / "server.log")
    try:
        # The model loads on the first generation: these tests are about stopping one, not loading it.
        warm_up = {"messages": [{"role": "user", "content": "Hi"}], "use_context": False, "max_tokens": 1}
        httpx.post(f"{url}/v1/chat/completions", json=warm_up, timeout=600).raise_for_status()
        yield url, root / "server.log"
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def cancelled_lines(log_path: Path) -> list[tuple[int, int]]:
    """(milliseconds to stop, pieces generated) of every cancelled local generation so far."""
    found = re.findall(r"local generation cancelled: stopped (\d+) ms after the caller left, (\d+) pieces in",
                       log_path.read_text())  # fmt: skip
    return [(int(ms), int(pieces)) for ms, pieces in found]


def generation(url: str) -> dict[str, int]:
    return httpx.get(f"{url}/health", timeout=30).json()["generation"]  # type: ignore[no-any-return]


def queue_empty(url: str) -> bool:
    return generation(url)["tickets"] == 0


def first_tokens(url: str) -> int:
    """How many generations have written their first token so far, from /metrics (every answer streams
    from the model, a plain one too): the moment a model is mid-answer, whatever the machine's speed."""
    metrics = httpx.get(f"{url}/metrics", timeout=30).text
    count = re.search(r"^rag_generation_time_to_first_token_seconds_count (\S+)$", metrics, re.MULTILINE)
    return int(float(count.group(1))) if count else 0


def assert_stopped_promptly(url: str, left: float) -> None:
    """The model's place is free within STOP_WITHIN_MS of the client leaving."""
    wait_until(lambda: queue_empty(url), "the abandoned generation kept its place in the queue", timeout=10)
    assert time.monotonic() - left < STOP_WITHIN_MS / 1000


def test_a_plain_query_abandoned_mid_answer_stops_the_local_model(served: tuple[str, Path]) -> None:
    url, log_path = served
    before, written = len(cancelled_lines(log_path)), first_tokens(url)
    with PendingRequest(f"{url}/v1/query", {**LONG_ANSWER, "stream": False}) as client:
        # Mid-answer on any machine: the model has written its first token, and this seeded answer goes on
        # to its 1,500th; the client leaves one poll later.
        wait_until(lambda: first_tokens(url) > written, "the model never started the answer")
        left = client.hang_up()
    assert_stopped_promptly(url, left)
    ms, pieces = wait_until(lambda: cancelled_lines(log_path)[before:], "no cancelled generation logged", 10)[0]
    assert ms < STOP_WITHIN_MS and pieces > 0  # stopped while writing the answer
    # What the next user notices: the model, aborted mid-answer, answers them.
    short = httpx.post(f"{url}/v1/query", json=SHORT_ANSWER, timeout=DEADLINE_S)
    assert short.status_code == 200 and short.json()["usage"]["completion_tokens"] > 0, short.text


def test_a_stream_abandoned_while_the_model_reads_its_prompt_stops_it(served: tuple[str, Path]) -> None:
    url, log_path = served
    before, written = len(cancelled_lines(log_path)), first_tokens(url)
    with PendingRequest(f"{url}/v1/chat/completions", PLAIN_CHAT) as client:
        # The model holds the request from here; it reads ~1,900 tokens before writing any.
        wait_until(lambda: generation(url)["running"], "the request never reached the model")
        left = client.hang_up()
    assert_stopped_promptly(url, left)
    ms, pieces = wait_until(lambda: cancelled_lines(log_path)[before:], "no cancelled generation logged", 10)[0]
    assert ms < STOP_WITHIN_MS and pieces == 0  # aborted inside llama.cpp, before any token
    assert first_tokens(url) == written


def test_shutdown_completes_within_the_grace_period_while_the_model_generates(
    tmp_path: Path, settings: Settings, embedder
) -> None:  # type: ignore[no-untyped-def]
    ingest_knowledge(settings)
    proc, url = start_serve(settings.data_dir, tmp_path / "server.log")
    long_answer = {**LONG_ANSWER, "stream": False}
    try:
        with PendingRequest(f"{url}/v1/query", long_answer):  # loads the model, starts writing, then leaves
            wait_until(lambda: first_tokens(url) == 1, "the first answer never started")
        # That client left; another one is still waiting for a long answer, mid-answer, when the server is told to stop.
        with PendingRequest(f"{url}/v1/query", long_answer):
            wait_until(lambda: first_tokens(url) == 2, "the second answer never started")
            stopping = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
            took = time.monotonic() - stopping
    finally:
        if proc.poll() is None:
            proc.kill()
    assert took < GRACE_S + 8, f"shutdown took {took:.1f}s with a {GRACE_S}s grace period"
