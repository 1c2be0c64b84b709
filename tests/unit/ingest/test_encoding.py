"""Text files in the encodings people save them in: marks first, then UTF-8, then a detected legacy encoding."""

from __future__ import annotations

import codecs

import pytest

from ingest.loaders import load_bytes
from rag.errors import InvalidInput

LIMIT = 10_000_000
HOURS = "Öffnungszeiten: Mo–Fr 9–17 Uhr; Café „Zur Linde“ – naïve prices from 5 €"


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("notepad-unicode.txt", HOURS.encode("utf-16")),  # Windows "Unicode": UTF-16 LE with its mark
        ("big-endian.txt", codecs.BOM_UTF16_BE + HOURS.encode("utf-16-be")),
        ("utf32.txt", codecs.BOM_UTF32_LE + HOURS.encode("utf-32-le")),
        ("bom.md", codecs.BOM_UTF8 + HOURS.encode()),
        ("ansi.txt", HOURS.encode("cp1252")),  # Windows "ANSI"
        ("no-mark.md", HOURS.encode("utf-16-le")),
    ],
)
def test_text_in_common_encodings_is_decoded(filename: str, data: bytes) -> None:
    assert HOURS in load_bytes(filename, data, LIMIT).pages[0].text


def test_short_latin1_and_other_legacy_encodings_are_detected() -> None:
    assert load_bytes("menu.txt", "café".encode("latin-1"), LIMIT).pages[0].text == "café"
    assert load_bytes("ascii16.txt", "Plain words".encode("utf-16-le"), LIMIT).pages[0].text == "Plain words"
    polish = "Zażółć gęślą jaźń, proszę pana."
    assert load_bytes("pl.txt", polish.encode("cp1250"), LIMIT).pages[0].text == polish
    russian = "Привет, мир. Это проверка текста."
    assert load_bytes("ru.txt", russian.encode("cp1251"), LIMIT).pages[0].text == russian


def test_an_html_page_is_read_in_the_charset_it_declares() -> None:
    page = b'<html><head><meta charset="iso-8859-15"><title>Prices</title></head><body><p>Coffee '
    page += "5 €".encode("iso-8859-15") + b"</p></body></html>"
    assert "Coffee 5 €" in load_bytes("prices.html", page, LIMIT).pages[0].text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (bytes(range(256)) * 20, "not text in UTF-8 or any other encoding"),
        (codecs.BOM_UTF16_LE + b"\x00\xd8", "UTF-16-LE byte-order mark but is not valid"),
        (b"text\x00with\x00\x00NUL bytes", "binary file"),
    ],
)
def test_only_undecodable_bytes_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        load_bytes("data.txt", data, LIMIT)
