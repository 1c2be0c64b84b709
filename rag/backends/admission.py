"""A bounded queue in front of a chat backend: a few generations run, a few wait, the rest are refused at once.

Without a bound, every request that needs the model waits for it, however long the line, and a client
that gave up long ago still holds its place. Here a caller first takes a `Ticket` (refused at once with
`Overloaded`, a 429 with a `Retry-After` hint, when `concurrency + depth` tickets are out), does its cheap
work (retrieval), then waits for a running slot only if it really needs the model. The line is also full
when the wait it means, at the measured time per generation, exceeds `max_wait_s`: on a busy CPU a few
places can mean minutes. Waiting is plain asyncio, so a cancelled caller leaves the line at once and its
slot goes to the next one.

Written by hand: asyncio.Semaphore neither bounds its waiters nor refuses at once, and the rate limiters
we looked at (aiolimiter, slowapi) limit requests per second, not work in flight.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from types import TracebackType

from rag.errors import Overloaded

# Until a generation has been timed, a refused client is told to come back after this many seconds.
_DEFAULT_SERVICE_S = 2.0
_MAX_RETRY_AFTER_S = 60


class Ticket:
    """A place in the line; `wait()` turns it into a running slot. Release it when done (or use `with`)."""

    def __init__(self, queue: GenerationQueue) -> None:
        self._queue = queue
        self._running_since: float | None = None
        self._released = False

    async def wait(self) -> None:
        """Until a running slot is ours; cancelling the caller leaves the line."""
        if self._running_since is None and not self._released:
            await self._queue._take_slot(self)

    def release(self) -> None:
        """Give the place (and the slot, if running) to the next caller. Safe to call twice."""
        if not self._released:
            self._released = True
            self._queue._leave(self)

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.release()


class GenerationQueue:
    """`concurrency` generations at a time, `depth` more waiting or preparing; the rest refused at once."""

    def __init__(self, name: str, concurrency: int, depth: int, max_wait_s: float = float("inf")) -> None:
        self.name = name
        self.concurrency = max(1, concurrency)
        self.depth = max(0, depth)
        self.max_wait_s = max_wait_s
        self._tickets = 0  # out: running, waiting, or still preparing
        self._running = 0
        self._waiters: deque[tuple[Ticket, asyncio.Future[None]]] = deque()
        self._service_s = _DEFAULT_SERVICE_S  # moving average of how long a slot is held

    def ticket(self) -> Ticket:
        """A place in the line, or `Overloaded` at once when the line is full (places or expected wait)."""
        full = self._tickets >= self.concurrency + self.depth
        if full or (self._tickets >= self.concurrency and self.expected_wait_s() > self.max_wait_s):
            raise Overloaded(
                f"the {self.name} chat backend is busy: {self._running} generating and {self._tickets - self._running}"
                f" waiting (RAG_GENERATION_QUEUE={self.depth}, about {self.expected_wait_s():.0f} s of wait);"
                " retry later",
                self.retry_after(),
            )
        self._tickets += 1
        return Ticket(self)

    def expected_wait_s(self) -> float:
        """How long a newcomer would wait for a slot: the line ahead, at the measured time per generation."""
        if self._tickets < self.concurrency:
            return 0.0
        return self._service_s * ((self._tickets - self.concurrency) // self.concurrency + 1)

    def retry_after(self) -> int:
        """Seconds until a place is likely free."""
        return min(_MAX_RETRY_AFTER_S, max(1, math.ceil(self.expected_wait_s() or self._service_s)))

    def stats(self) -> dict[str, int]:
        return {
            "running": self._running, "waiting": len(self._waiters), "tickets": self._tickets,
            "concurrency": self.concurrency, "depth": self.depth,
        }  # fmt: skip

    async def _take_slot(self, ticket: Ticket) -> None:
        if self._running < self.concurrency and not self._waiters:
            self._start(ticket)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((ticket, future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # the slot came just as we left: pass it on
                ticket.release()
            else:
                self._waiters.remove((ticket, future))
            raise

    def _start(self, ticket: Ticket) -> None:
        self._running += 1
        ticket._running_since = time.monotonic()

    def _leave(self, ticket: Ticket) -> None:
        self._tickets -= 1
        if ticket._running_since is None:
            self._waiters = deque(w for w in self._waiters if w[0] is not ticket)
            return
        held = time.monotonic() - ticket._running_since
        self._service_s = 0.8 * self._service_s + 0.2 * held
        self._running -= 1
        while self._waiters and self._running < self.concurrency:
            waiting, future = self._waiters.popleft()
            if not future.done():
                self._start(waiting)
                future.set_result(None)
