"""With the local llama.cpp model in the real `rag serve`: work stops when the client leaves, and shutdown is prompt.

The local backend logs how long the model took to stop after its caller left ("local generation
cancelled: stopped N ms after the caller left"); /health shows the model's queue. Both are read here
from outside, as an operator would.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.config import Settings
from tests.conftest import BIN, free_port, ingest_knowledge, wait_for_http
from tests.integration.test_stream_disconnect import LONG_ANSWER

pytestmark = pytest.mark.slow

STOP_WITHIN_MS = 1000
GRACE_S = 2
# About 1,300 tokens for the model to read before its first token: several seconds on a CPU.
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
    wait_for_http(f"{url}/health", timeout=180, process=proc)
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


def wait_for(condition: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout}s")


def queue_empty(url: str) -> bool:
    return httpx.get(f"{url}/health", timeout=10).json()["generation"]["tickets"] == 0


def test_a_plain_query_abandoned_mid_answer_stops_the_local_model(served: tuple[str, Path]) -> None:
    url, log_path = served
    body = {**LONG_ANSWER, "stream": False}
    # How long the whole answer takes on this machine and build (the seeded answer's length depends on both),
    # so the client below leaves a third of the way through it, whatever that length is.
    started = time.monotonic()
    httpx.post(f"{url}/v1/query", json=body, timeout=600).raise_for_status()
    whole = time.monotonic() - started
    before = len(cancelled_lines(log_path))
    with httpx.Client(timeout=httpx.Timeout(60, read=whole / 3)) as client, pytest.raises(httpx.ReadTimeout):
        client.post(f"{url}/v1/query", json=body)
    left = time.monotonic()
    wait_for(lambda: queue_empty(url), timeout=10)
    assert time.monotonic() - left < STOP_WITHIN_MS / 1000
    ms, _ = wait_for(lambda: cancelled_lines(log_path)[before:], timeout=10)[0]
    assert ms < STOP_WITHIN_MS  # reading the prompt or writing the answer, depending on the machine's load


def test_a_stream_abandoned_while_the_model_reads_its_prompt_stops_it(served: tuple[str, Path]) -> None:
    url, log_path = served
    before = len(cancelled_lines(log_path))
    with httpx.Client(timeout=httpx.Timeout(60, read=1.5)) as client, pytest.raises(httpx.ReadTimeout):
        client.post(f"{url}/v1/chat/completions", json=PLAIN_CHAT)  # no first token within 1.5 s
    left = time.monotonic()
    wait_for(lambda: queue_empty(url), timeout=10)
    assert time.monotonic() - left < STOP_WITHIN_MS / 1000
    ms, pieces = wait_for(lambda: cancelled_lines(log_path)[before:], timeout=10)[0]
    assert ms < STOP_WITHIN_MS and pieces == 0  # aborted inside llama.cpp, before any token


def test_shutdown_completes_within_the_grace_period_while_the_model_generates(
    tmp_path: Path, settings: Settings, embedder
) -> None:  # type: ignore[no-untyped-def]
    ingest_knowledge(settings)
    proc, url = start_serve(settings.data_dir, tmp_path / "server.log")
    try:
        with httpx.Client(timeout=httpx.Timeout(60, read=3)) as client, pytest.raises(httpx.ReadTimeout):
            client.post(f"{url}/v1/query", json={**LONG_ANSWER, "stream": False})
        # That client left; another one is still waiting for a long answer when the server is told to stop.
        waiting = subprocess.Popen([str(BIN / "python"), "-c", (
            "import httpx, sys; httpx.post(sys.argv[1], json=__import__('json').loads(sys.argv[2]), timeout=120)"
        ), f"{url}/v1/query", __import__("json").dumps({**LONG_ANSWER, "stream": False})])  # fmt: skip
        wait_for(lambda: not queue_empty(url), timeout=30)
        stopping = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        took = time.monotonic() - stopping
        waiting.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert took < GRACE_S + 8, f"shutdown took {took:.1f}s with a {GRACE_S}s grace period"
