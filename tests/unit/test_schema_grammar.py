"""The OpenAPI document's patterns say exactly what the server's own checks accept, character for character."""

from __future__ import annotations

import re
from typing import Annotated

import pytest
from pydantic import BaseModel, StringConstraints, ValidationError

from api.schemas.answers import SearchRequest
from api.schemas.grammar import (
    UNICODE_SPACE,
    collection_name_pattern,
    not_blank_pattern,
    text_document_pattern,
)
from ingest.loaders import load_bytes
from rag.errors import RagError, Unprocessable
from rag.validation import check_collection_name


def edge_characters() -> list[str]:
    """Every character where str.isprintable changes its answer, the one before it, and a few plain ones."""
    printable = bytes(map(str.isprintable, map(chr, range(0x110000))))
    edges = [code for code in range(1, 0x110000) if printable[code] != printable[code - 1]]
    codes = {c for code in edges for c in (code - 1, code)} | {ord("a"), ord("/"), ord("é"), ord("🙂")}
    return [chr(c) for c in sorted(codes) if not 0xD800 <= c < 0xE000]  # no lone surrogates in JSON text


def accepted_name(name: str) -> bool:
    try:
        return check_collection_name(name) == name
    except Unprocessable:
        return False


def matches(pattern: str, text: str) -> bool:
    # JSON Schema patterns are unanchored searches; a closing `$` means the end of the text, as ECMA-262 reads it.
    return re.search(pattern.removesuffix("$") + (r"\Z" if pattern.endswith("$") else ""), text) is not None


@pytest.mark.parametrize("name", ["a", ".", "..", "...", " a", "a ", "a b", "a/b", "x" * 128, "x" * 129, "", "é\u0301"])
def test_the_collection_name_pattern_is_the_server_check_for_these_names(name: str) -> None:
    assert matches(collection_name_pattern(), name) is accepted_name(name)


def test_the_collection_name_pattern_agrees_with_the_server_on_every_edge_of_the_unicode_tables() -> None:
    pattern = collection_name_pattern()
    for character in edge_characters():
        for name in (character, f"a{character}b", f"{character}{character}"):
            assert matches(pattern, name) is accepted_name(name), repr(name)


def test_not_blank_is_what_str_strip_keeps() -> None:
    pattern = not_blank_pattern()
    for code in range(0x3001):  # every space character lies below U+3001
        assert matches(pattern, chr(code)) is bool(chr(code).strip()), hex(code)


def test_unicode_space_is_what_pydantic_trims() -> None:
    class Trimmed(BaseModel):
        text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

    pattern = f"[^{UNICODE_SPACE}]"
    for code in range(0x3001):
        try:
            Trimmed(text=chr(code))
            kept = True
        except ValidationError:
            kept = False
        assert matches(pattern, chr(code)) is kept, hex(code)


@pytest.mark.parametrize("text", ["a", " ", "\ufeff", "\ufeff ", "\ufeffa", "\ufeff\ufeff", "a\x00", "\x1c", "\u200b"])
def test_the_text_document_pattern_is_what_the_text_loader_reads(text: str) -> None:
    try:
        load_bytes("text.txt", text.encode(), 10_000)
        readable = True
    except RagError:
        readable = False
    assert matches(text_document_pattern(), text) is readable


@pytest.mark.parametrize(
    ("given", "read"),
    [([1, 2.0], [1, 2]), ([2.0, 3.0], [2.0, 3.0]), (2.0, 2.0), (["a"], ["a"])],
)
def test_a_list_of_integers_may_spell_some_as_floats(given: object, read: object) -> None:
    filters = SearchRequest(query="q", collection="c", filters={"key": given}).filters
    assert filters == {"key": read} and type(filters["key"]) is type(read)


@pytest.mark.parametrize("refused", [{"top_k": "5"}, {"top_k": True}, {"rerank": 0}, {"rerank": "yes"}])
def test_a_request_is_read_with_its_schema_types(refused: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SearchRequest.model_validate({"query": "q", "collection": "c", **refused})
    assert SearchRequest.model_validate({"query": "q", "collection": "c", "top_k": 3.0}).top_k == 3
