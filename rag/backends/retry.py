"""Retries with backoff inside a fixed time budget, shared by the HTTP chat backends.

A backend's `Retry-After` must not stretch a request: the whole call, retries included, ends within
`RAG_CHAT_TIMEOUT_S × (retries + 1)` plus the backoff. A `Retry-After` that fits what is left is
honoured (the server knows best when to come back); one that does not fails fast with a 503 that passes
the backend's `Retry-After` on to the client, instead of holding the request. The SDKs' own retry loops
sleep for any `Retry-After` up to a minute, so the backends turn them off and use this one.
"""

from __future__ import annotations

import asyncio
import math
import time

from rag.errors import BackendBusy, RagError


def retryable(status: int) -> bool:
    """Statuses worth another try, as the OpenAI SDK decides: timeouts, conflicts, rate limits, server errors."""
    return status in (408, 409, 429) or status >= 500


def backoff_s(attempt: int) -> float:
    """Exponential backoff before retry number `attempt + 1`: 0.5 s, 1 s, 2 s ... at most 8 s."""
    return min(0.5 * 2**attempt, 8.0)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header given in seconds; None when absent or a date (treated as absent)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None


class RetryBudget:
    """The time one backend call may take, retries included; start one per call."""

    def __init__(self, timeout_s: float, max_retries: int) -> None:
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        backoff = sum(backoff_s(i) for i in range(max_retries))
        self.deadline = time.monotonic() + timeout_s * (max_retries + 1) + backoff

    def attempt_timeout(self) -> float:
        """The timeout of the next attempt: the configured one, cut to what is left of the budget."""
        return max(0.05, min(self.timeout_s, self.deadline - time.monotonic()))

    async def before_retry(self, attempt: int, failure: RagError, retry_after: str | None = None) -> None:
        """Wait before retrying after `failure` on attempt `attempt` (0-based), or raise when no retry fits."""
        if attempt >= self.max_retries:
            raise failure
        asked = parse_retry_after(retry_after)
        wait = backoff_s(attempt) if asked is None else asked
        left = self.deadline - time.monotonic()
        if wait >= left:
            if asked is not None:  # the backend wants more time than we have: let the client decide
                raise BackendBusy(
                    f"the chat backend is busy and asked to retry after {asked:g} s ({failure.message})",
                    max(1, math.ceil(asked)),
                ) from failure
            raise failure
        await asyncio.sleep(wait)
