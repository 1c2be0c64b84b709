"""Loaders: text per page, visible HTML text only, and a clear reason for every kind of bad file."""

from __future__ import annotations

import io

import pytest

from ingest.loaders import load_bytes
from rag.errors import InvalidInput, TooLarge, UnsupportedType
from tests.conftest import make_encrypted_pdf, make_pdf, make_scanned_pdf

LIMIT = 10_000_000


def test_pdf_keeps_text_and_page_numbers() -> None:
    doc = load_bytes("a.pdf", make_pdf(["alpha page one", "beta page two", "gamma page three"]), LIMIT)
    assert [p.number for p in doc.pages] == [1, 2, 3]
    assert "beta" in doc.pages[1].text
    assert doc.page_count == 3


def test_html_yields_visible_text_only() -> None:
    html = (
        b"<html><head><title>Hours</title><style>.x{color:red}</style></head>"
        b"<body><script>var secret = 1;</script><h1>Opening</h1><p>We open at 9.</p></body></html>"
    )
    text = load_bytes("page.html", html, LIMIT).pages[0].text
    assert "We open at 9." in text and "Opening" in text and "Hours" in text
    assert "secret" not in text and "color" not in text


def test_an_html_page_whose_first_heading_is_its_title_says_it_once() -> None:
    html = b"<html><head><title>Error codes</title></head><body><h1>Error codes</h1><p>F2: drain.</p></body></html>"
    assert load_bytes("page.html", html, LIMIT).pages[0].text == "Error codes\n\nF2: drain."


def test_markdown_and_text_are_read_as_utf8() -> None:
    assert "Grüße" in load_bytes("n.md", "# Grüße\nhallo".encode(), LIMIT).pages[0].text
    assert load_bytes("n.txt", "\ufeffplain".encode(), LIMIT).pages[0].text == "plain"


def test_docx_paragraphs_and_tables_in_document_order_tables_as_markdown_rows() -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("Refunds take five days.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Code", "Meaning"
    table.cell(1, 0).text, table.cell(1, 1).text = "E07", "Brush | jammed"
    document.add_paragraph("Call us after that.")
    buffer = io.BytesIO()
    document.save(buffer)
    text = load_bytes("policy.docx", buffer.getvalue(), LIMIT).pages[0].text
    assert text == (
        "Refunds take five days.\n| Code | Meaning |\n| --- | --- |\n| E07 | Brush \\| jammed |\nCall us after that."
    )


def test_html_tables_become_markdown_rows_under_their_header_row() -> None:
    html = (
        b"<p>Opening hours</p><table><tr><td>Monday</td><td>9-17</td></tr><tr><th>Day</th><th>Hours</th></tr>"
        b"<tr><td colspan='2'>Closed on holidays</td></tr></table><table><tr><td>layout only</td></tr></table>"
    )
    text = load_bytes("hours.html", html, LIMIT).pages[0].text
    assert text == (
        "Opening hours\n| Day | Hours |\n| --- | --- |\n| Monday | 9-17 |\n"
        "| Closed on holidays | Closed on holidays |\nlayout only"
    )


@pytest.mark.parametrize(
    ("filename", "data", "error", "reason"),
    [
        ("song.mp3", b"ID3", UnsupportedType, "unsupported file type"),
        ("photo.png", b"\x89PNG", InvalidInput, "corrupt or unreadable image"),
        ("empty.txt", b"", InvalidInput, "empty file"),
        ("random.txt", bytes(range(256)) * 4, InvalidInput, "not text in UTF-8"),
        ("broken.pdf", b"%PDF-1.4\n garbage without xref", InvalidInput, "PDF"),
        ("truncated.pdf", make_pdf(["some text"])[:200], InvalidInput, "PDF"),
        ("locked.pdf", make_encrypted_pdf(), InvalidInput, "encrypted PDF"),
        ("shapes.pdf", make_scanned_pdf(), InvalidInput, "neither text nor scanned images"),
        ("blank.md", b"   \n\n  ", InvalidInput, "no extractable text"),
    ],
)
def test_bad_input_gets_a_clear_reason(filename: str, data: bytes, error: type, reason: str) -> None:
    with pytest.raises(error, match=reason):
        load_bytes(filename, data, LIMIT)


def test_file_over_the_size_limit_is_refused() -> None:
    with pytest.raises(TooLarge, match="over the limit"):
        load_bytes("big.txt", b"x" * 101, 100)
