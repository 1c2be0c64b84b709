"""Fake chat-completion servers for fault-injection tests.

The fakes speak the real wire protocol over real HTTP: a stdlib ``ThreadingHTTPServer`` bound to
127.0.0.1 on a free port, in a background thread, so the code under test goes through its real HTTP
client (openai SDK, httpx, ...) exactly as in production. Because we write the bytes ourselves we can
also misbehave precisely: 500s, 429s with ``Retry-After``, hangs, garbage bodies and streams cut off
mid-way (chunked body never terminated -> the client sees an incomplete read).

Two dialects, both on ``POST /v1/chat/completions`` (plus ``GET /v1/models``):

* ``fake_openai_server``    -- OpenAI ``chat.completion`` / ``chat.completion.chunk`` + ``data: [DONE]``.
* ``fake_llama_api_server`` -- Llama API native format: ``completion_message.content.text``,
  ``stop_reason``, ``metrics``; streams ``{"id", "event": {"event_type": start|progress|complete}}``.

Modes: ok, error500, flaky, rate_limited, hang, cut_stream, garbage (invalid JSON), missing_fields
(valid JSON without the expected fields). Faults apply to chat requests only; ``/v1/models`` always works.

``token_delay_s`` makes the fake generate slowly, like a real model: it waits that long before each word
of the reply (``first_token_delay_s`` more before the first, like a model reading a long prompt) and, as
llama.cpp's server does, watches its client meanwhile and stops generating once it has closed the connection.
``FakeServer.call_times``, ``token_times`` and ``hangup_times`` record when each call started, each word
was generated and the fake noticed that a client had closed the connection mid-generation; ``completed``
counts the replies sent to their end. ``retry_after`` is the ``Retry-After`` of the "rate_limited" mode.

Token counts are approximations: whitespace-separated words of all message contents (prompt) and of
the reply (completion); ``max_tokens``/``max_completion_tokens`` truncates the reply to that many words.
"""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = ("ok", "error500", "flaky", "rate_limited", "hang", "cut_stream", "garbage", "missing_fields")
CHAT_PATH = "/v1/chat/completions"


class Headers(dict):
    """Received headers; keys stored lower-case, lookups are case-insensitive."""

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: Headers
    json: Any  # parsed body, or None (no body / invalid JSON)


@dataclass
class FakeServer:
    base_url: str  # e.g. "http://127.0.0.1:PORT/v1"
    requests: list[RecordedRequest]
    _httpd: _FakeHTTPServer = field(repr=False)

    @property
    def calls(self) -> int:
        """Number of chat-completion requests received so far."""
        return self._httpd.calls

    @property
    def call_times(self) -> list[float]:
        """`time.monotonic()` at the start of each chat-completion request."""
        with self._httpd.lock:
            return list(self._httpd.call_times)

    @property
    def token_times(self) -> list[float]:
        """`time.monotonic()` of each reply word generated (with ``token_delay_s``), across all calls."""
        with self._httpd.lock:
            return list(self._httpd.token_times)

    @property
    def hangup_times(self) -> list[float]:
        """`time.monotonic()` when a generation stopped because its client had closed the connection."""
        with self._httpd.lock:
            return list(self._httpd.hangup_times)

    @property
    def completed(self) -> int:
        """Replies sent to their end (a client that left midway does not count)."""
        return self._httpd.completed


def _pieces(text: str) -> list[str]:
    """Split into word pieces that concatenate back to ``text`` (whitespace rides with the words)."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


def _prompt_tokens(body: dict) -> int:
    n = 0
    for msg in body.get("messages") or []:
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, str):
            n += len(content.split())
        elif isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
            n += sum(len(str(p.get("text", "")).split()) for p in content if isinstance(p, dict))
        elif isinstance(content, dict):  # Llama API also accepts {"type": "text", "text": ...}
            n += len(str(content.get("text", "")).split())
    return n


class _FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # never wait for keep-alive or hanging handler threads on close

    def __init__(
        self, dialect: str, mode: str, reply: str, fail_times: int, hang_seconds: float, **timing: Any
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
        super().__init__(("127.0.0.1", 0), _Handler)
        self.dialect, self.mode, self.reply = dialect, mode, reply
        self.fail_times, self.hang_seconds = fail_times, hang_seconds
        self.requests: list[RecordedRequest] = []
        self.calls = 0
        self.token_delay_s: float = timing.get("token_delay_s", 0.0)
        self.first_token_delay_s: float = timing.get("first_token_delay_s", 0.0)
        self.retry_after: str = timing.get("retry_after", "0")
        self.completed = 0
        self.call_times: list[float] = []
        self.token_times: list[float] = []
        self.hangup_times: list[float] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()  # open client sockets, closed on shutdown

    def close_connections(self) -> None:
        with self.lock:
            conns, self.connections = list(self.connections), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive + chunked streams, like real servers
    server: _FakeHTTPServer
    timeout = 60  # drop idle keep-alive connections eventually

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    # ---- plumbing -------------------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def _record(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        rec = RecordedRequest(self.command, self.path, Headers((k.lower(), v) for k, v in self.headers.items()), body)
        with self.server.lock:
            self.server.requests.append(rec)
        return rec

    def _send(self, status: int, body: bytes, ctype: str = "application/json", extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, obj: Any, extra: dict | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), extra=extra)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _event(self, data: Any) -> None:
        """One SSE event (``data: ...\\n\\n``) as one HTTP chunk."""
        payload = f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()
        self.wfile.write(b"%X\r\n%s\r\n" % (len(payload), payload))
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def _cut(self) -> None:
        """Drop the connection mid-body: no final event, no [DONE], no terminating chunk."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _client_left(self, wait: float = 0.0) -> bool:
        """True once the client closed the connection (readable with nothing to read), within `wait` seconds."""
        try:
            # poll, not select: select() cannot watch a descriptor numbered 1024 or more, and a long test
            # session can hold that many
            poller = select.poll()
            poller.register(self.connection, select.POLLIN | select.POLLHUP)
            readable = poller.poll(wait * 1000)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _left_during(self, seconds: float) -> bool:
        """Wait `seconds`, watching the client (and the server shutting down); True as soon as either goes."""
        deadline = time.monotonic() + seconds
        while True:
            if self._client_left(max(0.0, min(deadline - time.monotonic(), 0.02))) or self.server.stopping.is_set():
                return True
            if time.monotonic() >= deadline:
                return False

    def _generate(self, pieces: list[str], first: int = 0) -> bool:
        """Spend ``token_delay_s`` per word (and ``first_token_delay_s`` before word 0), recording each; False
        (recorded in ``hangup_times``) if the client left meanwhile. `first` is the index of ``pieces[0]``."""
        srv = self.server
        if not srv.token_delay_s and not srv.first_token_delay_s:
            return True
        for i in range(first, first + len(pieces)):
            if self._left_during(srv.token_delay_s + (srv.first_token_delay_s if i == 0 else 0.0)):
                with srv.lock:
                    srv.hangup_times.append(time.monotonic())
                self.close_connection = True
                return False
            with srv.lock:
                srv.token_times.append(time.monotonic())
        return True

    def _sent_in_full(self) -> None:
        with self.server.lock:
            self.server.completed += 1

    def _error(self, status: int, message: str, kind: str, extra: dict | None = None) -> None:
        if self.server.dialect == "openai":
            code = "rate_limit_exceeded" if status == 429 else None
            body: dict = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        else:  # Llama API error shape is not in the docs we have; this is a plausible guess
            body = {"title": kind, "detail": message, "status": status}
        self._send_json(status, body, extra)

    # ---- routes -------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._record()
        if self.path.rstrip("/") == "/v1/models":
            model = {"id": "fake-model", "object": "model", "created": int(time.time()), "owned_by": "fake"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._error(404, f"no route GET {self.path}", "not_found_error")

    def do_POST(self) -> None:
        rec = self._record()
        if self.path.rstrip("/") != CHAT_PATH:
            return self._error(404, f"no route POST {self.path}", "not_found_error")
        srv = self.server
        with srv.lock:
            srv.calls += 1
            srv.call_times.append(time.monotonic())
            n = srv.calls
        if not isinstance(rec.json, dict):
            return self._error(400, "request body is not a JSON object", "invalid_request_error")
        body, mode = rec.json, srv.mode
        stream = bool(body.get("stream"))

        if mode == "error500" or (mode == "flaky" and n <= srv.fail_times):
            return self._error(500, "The server had an error while processing your request.", "server_error")
        if mode == "rate_limited" and (srv.fail_times == 0 or n <= srv.fail_times):
            retry_after = {"Retry-After": srv.retry_after}
            return self._error(429, "Rate limit reached, please retry.", "rate_limit_error", retry_after)
        if mode == "hang" and srv.stopping.wait(srv.hang_seconds):
            return self._cut()  # server shutting down: give up on this request
        if mode == "garbage":
            if stream:
                self._start_stream()
                self._event("this is {not json")
                self._event("[DONE]")
                return self._end_stream()
            return self._send(200, b'{"id": "chatcmpl-garbage", "choices": [{"mess')
        if mode == "missing_fields":
            return self._send_json(200, {"id": "chatcmpl-missing", "object": "chat.completion"})

        pieces = _pieces(srv.reply)
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        stop_reason = "stop"
        if isinstance(limit, int) and limit < len(pieces):
            pieces, stop_reason = pieces[:limit], "length"
            if pieces:
                pieces[-1] = pieces[-1].rstrip()
        if not stream and not self._generate(pieces):
            return self._cut()  # the client left while we were generating
        text = "".join(pieces)
        usage = (_prompt_tokens(body), len(text.split()))
        cut = mode == "cut_stream"
        if srv.dialect == "openai":
            self._openai(body, stream, pieces, text, stop_reason, usage, cut)
        else:
            self._llama(stream, pieces, text, stop_reason, usage, cut)

    # ---- dialects -----------------------------------------------------------------------------
    def _openai(
        self, body: dict, stream: bool, pieces: list[str], text: str, finish: str, usage: tuple[int, int], cut: bool
    ) -> None:
        head = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "created": int(time.time()),
            "model": body.get("model") or "fake-model",
            "system_fingerprint": "fp_fake",
        }
        usage_obj = {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}
        if not stream:
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": finish,
            }
            self._send_json(200, {**head, "object": "chat.completion", "choices": [choice], "usage": usage_obj})
            return self._sent_in_full()

        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict, finish_reason: str | None = None) -> dict:
            c = {
                **head,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
            return {**c, "usage": None} if include_usage else c

        self._start_stream()
        self._event(chunk({"role": "assistant", "content": ""}))
        for i, piece in enumerate(pieces):
            if (cut and i == 2) or not self._generate([piece], first=i):
                return self._cut()
            self._event(chunk({"content": piece}))
        if cut:
            return self._cut()
        self._event(chunk({}, finish))
        if include_usage:
            self._event({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage_obj})
        self._event("[DONE]")
        self._end_stream()
        self._sent_in_full()

    def _llama(
        self, stream: bool, pieces: list[str], text: str, stop_reason: str, usage: tuple[int, int], cut: bool
    ) -> None:
        rid = f"chatcmpl-{uuid.uuid4()}"
        metrics = [
            {"metric": "num_prompt_tokens", "value": usage[0], "unit": "tokens"},
            {"metric": "num_completion_tokens", "value": usage[1], "unit": "tokens"},
            {"metric": "num_total_tokens", "value": sum(usage), "unit": "tokens"},
        ]
        if not stream:
            message = {"role": "assistant", "stop_reason": stop_reason, "content": {"type": "text", "text": text}}
            self._send_json(200, {"id": rid, "completion_message": message, "metrics": metrics})
            return self._sent_in_full()

        def event(event_type: str, delta_text: str, **extra: Any) -> dict:
            return {
                "id": rid,
                "event": {"event_type": event_type, "delta": {"type": "text", "text": delta_text}, **extra},
            }

        self._start_stream()
        self._event(event("start", ""))
        for i, piece in enumerate(pieces):
            if (cut and i == 2) or not self._generate([piece], first=i):
                return self._cut()
            self._event(event("progress", piece))
        if cut:
            return self._cut()
        self._event(event("complete", "", stop_reason=stop_reason, metrics=metrics))
        self._end_stream()
        self._sent_in_full()


@contextmanager
def _serve(
    dialect: str, mode: str, reply: str, fail_times: int, hang_seconds: float, **timing: Any
) -> Iterator[FakeServer]:
    httpd = _FakeHTTPServer(dialect, mode, reply, fail_times, hang_seconds, **timing)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"fake-{dialect}-{mode}", daemon=True
    )
    thread.start()
    try:
        yield FakeServer(f"http://127.0.0.1:{httpd.server_address[1]}/v1", httpd.requests, httpd)
    finally:
        httpd.stopping.set()  # wake any "hang" handlers
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()  # also end keep-alive connections the client still holds open
        thread.join(timeout=5)


@contextmanager
def fake_openai_server(
    mode: str = "ok",
    *,
    reply: str = "The answer is 42 [1].",
    fail_times: int = 0,
    hang_seconds: float = 30.0,
    token_delay_s: float = 0.0,
    first_token_delay_s: float = 0.0,
    retry_after: str = "0",
) -> Iterator[FakeServer]:
    """An OpenAI-compatible ``/v1/chat/completions`` (+ ``/v1/models``) server; see module docstring."""
    timing = {"token_delay_s": token_delay_s, "first_token_delay_s": first_token_delay_s, "retry_after": retry_after}
    with _serve("openai", mode, reply, fail_times, hang_seconds, **timing) as server:
        yield server


@contextmanager
def fake_llama_api_server(
    mode: str = "ok",
    *,
    reply: str = "The answer is 42 [1].",
    fail_times: int = 0,
    hang_seconds: float = 30.0,
    retry_after: str = "0",
) -> Iterator[FakeServer]:
    """A Llama API native-format ``/v1/chat/completions`` (+ ``/v1/models``) server; see module docstring."""
    with _serve("llama-api", mode, reply, fail_times, hang_seconds, retry_after=retry_after) as server:
        yield server
