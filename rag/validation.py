"""The grammar of metadata and of search filters, checked in one place before Chroma or SQLite see them.

Metadata (per document, on every chunk): `{key: scalar}`. Filters: `{key: scalar | [scalar, ...]}`,
a list meaning "any of". Chroma and SQLite each have their own limits (operator keys starting with
`$`, one type per `$in` list, 64-bit integers, no NaN, a cap on SQL variables); values that break
them used to surface as 500s deep inside a search or an upload. Here they are an `InvalidInput`.
"""

from __future__ import annotations

import math
import re
from typing import Any

from rag.errors import InvalidInput, Unprocessable

# Letters and digits of any script and `_`, then also `.` and `-`: no `$` (Chroma's operators), no `:`
# (its reserved `chroma:` keys), no quotes (the SQLite JSON path), no spaces or control characters.
KEY_PATTERN = r"^\w[\w.-]{0,63}$"
MAX_FILTER_KEYS = 16
MAX_FILTER_VALUES = 100
MAX_STRING_VALUE = 1000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_KEY = re.compile(KEY_PATTERN)
GRAMMAR = (
    f"keys: 1-64 letters, digits, '_', '.' or '-', starting with a letter, digit or '_';"
    f" values: a string (up to {MAX_STRING_VALUE} characters), a 64-bit integer, a finite number or a boolean;"
    f" a filter value may also be a list of 1-{MAX_FILTER_VALUES} values of one type (any of);"
    f" at most {MAX_FILTER_KEYS} filter keys"
)


def _kind(value: Any) -> str:
    """The scalar type of a value ('bool' before 'int': True is an int in Python), or why it is not one."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidInput(f"integer {value} is outside the 64-bit range")
        return "int"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"number {value} is not finite")
        return "float"
    if isinstance(value, str):
        if len(value) > MAX_STRING_VALUE:
            raise InvalidInput(f"string value is longer than {MAX_STRING_VALUE} characters")
        if "\x00" in value:
            raise InvalidInput("string value holds a NUL character")
        return "str"
    raise InvalidInput(f"{type(value).__name__} is not a string, number or boolean")


def _check_key(key: Any) -> None:
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidInput(f"invalid key {key!r}: {GRAMMAR}")


def check_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """A document's metadata, checked: keys by the grammar, every value one scalar."""
    for key, value in metadata.items():
        _check_key(key)
        try:
            _kind(value)
        except InvalidInput as exc:
            raise InvalidInput(f"metadata {key!r}: {exc.message}") from exc
    return metadata


def check_filters(filters: dict[str, Any] | None) -> dict[str, Any] | None:
    """Search filters, checked: a scalar or a non-empty list of scalars of one type per key."""
    if not filters:
        return None
    if len(filters) > MAX_FILTER_KEYS:
        raise InvalidInput(f"at most {MAX_FILTER_KEYS} filter keys")
    for key, value in filters.items():
        _check_key(key)
        try:
            if not isinstance(value, list):
                _kind(value)
                continue
            if not value or len(value) > MAX_FILTER_VALUES:
                raise InvalidInput(f"a list must hold 1-{MAX_FILTER_VALUES} values")
            if len({_kind(v) for v in value}) > 1:
                raise InvalidInput("a list must hold values of one type")
        except InvalidInput as exc:
            raise InvalidInput(f"filter {key!r}: {exc.message}") from exc
    return filters


MAX_COLLECTION_NAME = 128


def check_collection_name(name: str) -> str:
    """Names are labels people choose: 1-128 printable characters of any script. They never reach Chroma
    as they are (see `rag.storage.vectors.chroma_collection_name`); `/` is refused because a name is a URL path
    segment, and `.`/`..` because clients normalise them away."""
    if (
        not 1 <= len(name) <= MAX_COLLECTION_NAME
        or not name.isprintable()
        or name != name.strip()
        or "/" in name
        or name in (".", "..")
    ):
        raise Unprocessable(
            f"invalid collection name {name!r}: 1-{MAX_COLLECTION_NAME} printable characters, no '/',"
            " no leading or trailing spaces, not '.' or '..'"
        )
    return name
