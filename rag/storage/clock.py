"""The time stamps every store writes (created_at, updated_at, ...): UTC, ISO 8601, to the second."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> str:
    """This moment as the stores stamp it; the same text sorts in time order on both engines."""
    return datetime.now(UTC).isoformat(timespec="seconds")
