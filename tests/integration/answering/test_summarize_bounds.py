"""/v1/summarize does bounded work: a size limit, and no model call for a client that has gone away.

A slow fake model server (tests/fakes.py, `token_delay_s`) records when each call started and each word
was generated; the client hangs up while the map steps of a long text run. Nothing may start after
that, and the call in flight must stop, within a second: for the OpenAI-compatible backend the
cancellation has to close the HTTP request to the model server, which then stops generating.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest

from tests.fakes import FakeServer, fake_openai_server
from tests.integration.backends.test_api_backends import assert_contract
from tests.waiting import PendingRequest, wait_until

# ~18,000 characters: about forty map steps in a 512-token window.
LONG_TEXT = " ".join(f"Item {i}: the board approved budget line {i} worth {i * 100} euros." for i in range(300))
# A map step generates 200 words in 10 s (the whole summary would take minutes): long enough that a call in
# flight cannot finish on its own before a server on a loaded machine notices the client left.
REPLY_WORDS = 200
REPLY = " ".join(f"note{i}" for i in range(REPLY_WORDS))
TOKEN_DELAY_S = 0.05
CANCEL_BOUND_S = 1.0  # the requirement: nothing new after the disconnect, within a second
QUIET_S = 4.0  # how long we watch the model server after the client left


def hang_up_during(url: str, body: dict, busy: Callable[[], bool]) -> float:
    """POST `body` to /v1/summarize and hang up once `busy()`; returns when we closed the connection."""
    with PendingRequest(f"{url}/v1/summarize", body) as client:
        wait_until(busy, "the summary never reached the model")
        return client.hang_up()


def after(times: list[float], moment: float) -> list[float]:
    return [t - moment for t in times if t > moment]


def assert_nothing_after(fake: FakeServer, left: float) -> float:
    """Watch the model server for QUIET_S; returns how long after the client left the model call was closed."""
    time.sleep(QUIET_S)  # a window with nothing in it can only be checked by waiting it out
    late_calls = after(fake.call_times, left + CANCEL_BOUND_S)
    late_tokens = after(fake.token_times, left + CANCEL_BOUND_S)
    assert not late_calls, f"{len(late_calls)} model call(s) started after the client left: {late_calls}"
    assert not late_tokens, f"{len(late_tokens)} word(s) generated more than {CANCEL_BOUND_S}s after the client left"
    [hangup] = after(fake.hangup_times, left)  # the call in flight was closed, so the model server stopped
    return hangup


@pytest.fixture
def slow_model():  # type: ignore[no-untyped-def]
    with fake_openai_server(reply=REPLY, token_delay_s=TOKEN_DELAY_S) as fake:
        yield fake


def test_a_text_over_the_limit_answers_413_without_calling_the_model(live_server) -> None:  # type: ignore[no-untyped-def]
    with fake_openai_server() as fake:
        url = live_server(chat_base_url=fake.base_url, max_summarize_chars=1_000)
        with httpx.Client(base_url=url, timeout=60) as client:
            error = assert_contract(client.post("/v1/summarize", json={"text": "x" * 1_001}), 413)
            assert "1,001 characters" in error["message"] and "1,000" in error["message"]
            assert client.post("/v1/summarize", json={"text": "y" * 1_000}).status_code == 200
            schema = client.get("/openapi.json").json()["paths"]["/v1/summarize"]["post"]["responses"]
        assert "413" in schema
    assert fake.calls == 1


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_leaves_during_the_map_steps_stops_every_model_call(
    live_server, slow_model: FakeServer, stream: bool
) -> None:  # type: ignore[no-untyped-def]
    url = live_server(chat_base_url=slow_model.base_url, chat_context_window=512, chat_max_retries=0)
    body = {"text": LONG_TEXT, "stream": stream}

    def second_step_generating() -> bool:  # leave while the second map step is generating
        return slow_model.calls >= 2 and len(slow_model.token_times) > REPLY_WORDS + 5

    left = hang_up_during(url, body, second_step_generating)
    closed_after = assert_nothing_after(slow_model, left)
    assert slow_model.calls == 2
    print(f"stream={stream}: the model call was closed {closed_after * 1000:.0f} ms after the client left")
    with httpx.Client(base_url=url, timeout=60) as client:  # the service is still fine
        assert client.get("/health").status_code in (200, 503)


def test_a_client_that_leaves_the_final_streamed_step_stops_it(live_server, slow_model: FakeServer) -> None:  # type: ignore[no-untyped-def]
    url = live_server(chat_base_url=slow_model.base_url)
    with httpx.Client(base_url=url, timeout=60) as client:
        with client.stream("POST", "/v1/summarize", json={"text": "A short text.", "stream": True}) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("data:") and json.loads(line[5:]).get("type") == "delta":
                    break
        left = time.monotonic()
    closed_after = assert_nothing_after(slow_model, left)
    assert slow_model.calls == 1 and len(slow_model.token_times) < len(REPLY.split())
    print(f"final step: the model call was closed {closed_after * 1000:.0f} ms after the client left")


@pytest.mark.slow
def test_the_local_model_stops_between_tokens_when_the_client_leaves(live_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The real llama.cpp backend (packaged SmolLM2), recording each token it hands out."""
    from rag.backends.local import LocalLlamaBackend
    from rag.config import Settings

    class RecordingLocalBackend(LocalLlamaBackend):
        def __init__(self, settings: Settings) -> None:
            super().__init__(settings)
            self.call_times: list[float] = []
            self.token_times: list[float] = []
            self.tokens_per_call: list[int] = []
            self.end_times: list[float] = []  # when each generation let go of the model

        def _generate(self, messages, params, cancel):  # type: ignore[no-untyped-def]
            self.call_times.append(time.monotonic())
            self.tokens_per_call.append(0)
            try:
                for chunk in super()._generate(messages, params, cancel):
                    self.token_times.append(time.monotonic())
                    self.tokens_per_call[-1] += 1
                    yield chunk
            finally:
                self.end_times.append(time.monotonic())

    window = {"chat_backend": "local", "chat_base_url": None, "chat_context_window": 512}
    backend = RecordingLocalBackend(Settings(_env_file=None, data_dir=tmp_path / "data", **window))  # type: ignore[arg-type]
    url = live_server(backend=backend, **window)
    # Leave while the second map step is generating (its prompt already read).
    calls = backend.tokens_per_call
    left = hang_up_during(url, {"text": LONG_TEXT, "temperature": 0}, lambda: len(calls) >= 2 and calls[1] >= 3)
    time.sleep(QUIET_S)
    assert len(backend.call_times) == 2, "a model call started after the client left"
    late = after(backend.token_times, left + CANCEL_BOUND_S)
    assert not late, f"{len(late)} token(s) generated more than {CANCEL_BOUND_S}s after the client left"
    [freed] = after(backend.end_times, left)
    assert freed < CANCEL_BOUND_S and not backend._lock.locked()  # the model is free for the next request
    print(f"local model: generation stopped {freed * 1000:.0f} ms after the client left")
