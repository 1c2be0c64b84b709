"""Waiting for conditions, not for time: a poll with a generous deadline, and a client that hangs up on cue.

A test that sleeps "long enough", or leaves a third of the way through a duration it measured, bets on how
fast the machine is right now; on a loaded one the bet fails. These wait for something observable instead
(a counter, a log line, the queue's state) and give up only after a deadline nobody should reach.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

# Generous: a loaded 2-core machine loading a model; a test that reaches it has failed anyway.
DEADLINE_S = 300.0


def wait_until(condition: Callable[[], T], what: str, timeout: float = DEADLINE_S, every: float = 0.02) -> T:
    """The first truthy value of `condition()`, polled every `every` seconds; AssertionError naming `what`
    (what did not happen) after `timeout`."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} (waited {timeout:.0f} s)")
        time.sleep(every)
    return value


class PendingRequest:
    """A POST sent on a raw socket and left waiting, until `hang_up()` closes it as a client that gives up.

    A raw socket, because an HTTP client gives no way to leave before the response headers arrive, and a
    non-streamed answer sends them only at the end."""

    def __init__(self, url: str, body: dict[str, Any]) -> None:
        parsed = httpx.URL(url)
        payload = json.dumps(body).encode()
        head = (f"POST {parsed.raw_path.decode()} HTTP/1.1\r\nHost: {parsed.host}:{parsed.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")  # fmt: skip
        self._socket = socket.create_connection((parsed.host, parsed.port or 80), timeout=30)
        self._socket.sendall(head.encode() + payload)
        self.left_at: float | None = None

    def hang_up(self) -> float:
        """Close the connection now (once); returns when, in `time.monotonic()`: the moment just before, since
        the server may notice, and act on it, before this thread runs again on a loaded machine."""
        if self.left_at is None:
            self.left_at = time.monotonic()
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
            self._socket.close()
        return self.left_at

    def __enter__(self) -> PendingRequest:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.hang_up()
