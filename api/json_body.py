"""Strict JSON for the bodies and form fields routes parse themselves (FastAPI parses the others).

`json.loads` raises RecursionError, not ValueError, on deeply nested input, and accepts NaN and
Infinity, which are not JSON and which Chroma and SQLite refuse later. Every hand-parsed body goes
through `parse_json`, so each of those is a 400 with a reason instead of a 500.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from rag.errors import InvalidInput, RagError

MAX_DEPTH = 64


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _depth(value: Any) -> int:
    """Nesting depth, walked with a stack: a recursive walk would hit the recursion limit it guards against."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def parse_json(raw: str | bytes, what: str = "the body", error: type[RagError] = InvalidInput) -> Any:
    """Parse JSON or raise `error` (400 by default): invalid, NaN/Infinity, or nested deeper than MAX_DEPTH."""
    try:
        value = json.loads(raw, parse_constant=_no_constants)
    except RecursionError as exc:
        raise error(f"{what} is nested deeper than {MAX_DEPTH} levels") from exc
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise error(f"{what} is not valid JSON: {exc}") from exc
    if _depth(value) > MAX_DEPTH:
        raise error(f"{what} is nested deeper than {MAX_DEPTH} levels")
    return value


async def read_json(request: Request, error: type[RagError] = InvalidInput) -> Any:
    """The request's body, parsed by `parse_json`."""
    return parse_json(await request.body(), error=error)
