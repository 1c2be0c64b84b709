"""rag.validation's grammar as pydantic types whose JSON schemas say exactly what the server accepts.

Some rules are enforced by rag.validation or by a route rather than by pydantic (so their status stays
what it was); their schemas still state them, so a client, or a fuzzer making valid requests from the
schema, meets the server's rules. Patterns are written so ECMA-262 and Python read them alike: `\\xHH`
escapes and literal characters, no `\\s`, `\\w` or `\\p{..}` classes that the two spell differently. One
exception: a metadata key's `\\w` (rag.validation.KEY_PATTERN) is Python's, letters and digits of any script;
ECMA-262 reads it as ASCII, so a client checking with it is stricter than the server, never looser.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema

from rag import validation as grammar
from rag.errors import InvalidInput


def _checked(check: Any) -> AfterValidator:
    """Run a rag.validation check inside validation, so a bad value is the route's 4xx like any other."""

    def validate(value: Any) -> Any:
        try:
            return check(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from exc

    return AfterValidator(validate)


def _integral(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# JSON Schema's integers include 2.0, which strict validation alone would refuse. Bounds go before INTEGRAL in
# an Annotated type (Annotated[int, Field(ge=1), INTEGRAL]), else pydantic cannot spell them as minimum/maximum.
INTEGRAL = BeforeValidator(_integral)
JsonInt = Annotated[int, INTEGRAL]


class RequestBody(BaseModel):
    """A request body read as its schema reads JSON: strict types, so "5" is not 5 and 0 is not false (lax
    validation took both, which the schema says are refused)."""

    model_config = ConfigDict(strict=True)


def code_points(holds: Callable[[str], bool]) -> str:
    """The body of a regex class of every code point where `holds` (e.g. str.isprintable), as ranges: the
    server's own test spelled out, so it matches this Python's Unicode tables character for character."""
    flags = bytes(map(holds, map(chr, range(0x110000))))
    runs = [(m.start(), m.end() - 1) for m in re.finditer(rb"\x01+", flags)]

    def spelled(code: int) -> str:  # ASCII and invisible characters escaped, the others as themselves
        if code < 0x80 or (code <= 0xFF and not chr(code).isprintable()):
            return f"\\x{code:02x}"
        return f"\\u{code:04x}" if code <= 0xFFFF and not chr(code).isprintable() else chr(code)

    return "".join(spelled(a) if a == b else f"{spelled(a)}-{spelled(b)}" for a, b in runs)


@cache
def _whitespace() -> str:
    return code_points(str.isspace)


# Unicode's White_Space, which pydantic's strip_whitespace removes (Rust's trim); str.strip() also takes \x1c-\x1f.
UNICODE_SPACE = "\\x09-\\x0d\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028-\\u2029\\u202f\\u205f\\u3000"


def not_blank_pattern() -> str:
    """Holds a character `str.strip()` keeps: the routes' test for an empty prompt, text or topic."""
    return f"[^{_whitespace()}]"


def text_document_pattern() -> str:
    """A text document's rules (ingest.loaders.text): no NUL, and something besides spaces once a leading
    byte order mark is dropped (its UTF-8 is decoded as utf-8-sig)."""
    space = _whitespace()
    return f"^(?:\\ufeff|(?!\\ufeff))[{space}]*[^{space}\\x00][^\\x00]*$"


@cache
def collection_name_pattern() -> str:
    """rag.validation.check_collection_name: printable characters (the only printable space is ' '), no
    '/', no space at either end, not '.' or '..'."""
    printable = code_points(lambda c: c.isprintable() and c != "/")
    return rf"^(?!\.\.?$)(?!\x20)(?!.*\x20$)[{printable}]{{1,{grammar.MAX_COLLECTION_NAME}}}$"


def _not_blank(schema: dict[str, Any]) -> None:
    schema["pattern"] = not_blank_pattern()


def _not_blank_once_trimmed(schema: dict[str, Any]) -> None:
    schema["pattern"] = f"[^{UNICODE_SPACE}]"


def _text_document(schema: dict[str, Any]) -> None:
    schema["pattern"] = text_document_pattern()


def _collection_name(schema: dict[str, Any]) -> None:
    schema.update(minLength=1, maxLength=grammar.MAX_COLLECTION_NAME, pattern=collection_name_pattern())


# Computed when the OpenAPI document is built (the classes cover every code point), not at import.
NotBlank = Annotated[str, Field(json_schema_extra=_not_blank)]
# Trimmed by pydantic, then not empty: a search query, a question.
Trimmed = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1), Field(json_schema_extra=_not_blank_once_trimmed)
]
DocumentText = Annotated[str, Field(json_schema_extra=_text_document)]
CollectionName = Annotated[
    str,
    Field(
        json_schema_extra=_collection_name,
        description=f"1-{grammar.MAX_COLLECTION_NAME} printable characters of any script, no '/', no leading or"
        " trailing space, not '.' or '..'",
    ),
]

# OpenAPI's int64 format, not minimum/maximum: FastAPI's document model holds bounds as floats, which would
# print INT64_MAX as 9.223372036854776e+18, a bound past the server's.
INT64 = {"type": "integer", "format": "int64"}
# rag.validation checks the values as they came: 10**30 is an int, refused, 1e30 a float, kept; a list holds one
# type. JSON Schema reads both as the same integer (it cannot tell 2.0 from 2), so that much of the grammar is
# the description's; the branches below say the rest.
_SCALARS: list[dict[str, Any]] = [
    {"type": "string", "maxLength": grammar.MAX_STRING_VALUE, "pattern": "^[^\\x00]*$"},
    INT64,
    {"type": "number"},
    {"type": "boolean"},
]
_LISTS = [{"type": "array", "items": s, "minItems": 1, "maxItems": grammar.MAX_FILTER_VALUES} for s in _SCALARS]
_KEYS = {"type": "object", "propertyNames": {"pattern": grammar.KEY_PATTERN}}
FILTERS_SCHEMA = {
    **_KEYS,
    "maxProperties": grammar.MAX_FILTER_KEYS,
    "additionalProperties": {"anyOf": [*_SCALARS, *_LISTS]},
    "description": f"Match chunk metadata: {grammar.GRAMMAR}",
}


def _integer_lists(filters: Any) -> Any:
    """A list of integers that spells some as 2.0 is a list of integers, as JSON Schema reads it (not two types)."""
    if not isinstance(filters, dict):
        return filters
    return {key: _as_integers(value) for key, value in filters.items()}


def _as_integers(value: Any) -> Any:
    if not isinstance(value, list) or not any(type(v) is int for v in value):
        return value
    if all(type(v) is int or (type(v) is float and v.is_integer()) for v in value):
        return [int(v) for v in value]
    return value


Filters = Annotated[
    dict[str, Any],
    WithJsonSchema(FILTERS_SCHEMA),
    BeforeValidator(_integer_lists),
    _checked(grammar.check_filters),
]
METADATA_SCHEMA = {**_KEYS, "additionalProperties": {"anyOf": _SCALARS}}
Metadata = Annotated[dict[str, Any], WithJsonSchema(METADATA_SCHEMA), _checked(grammar.check_metadata)]
