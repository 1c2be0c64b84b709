"""Loaders of spreadsheets, slides, e-mail, e-books and PDF tables, on real files made here."""

from __future__ import annotations

import pytest

from ingest.loaders import load_bytes
from ingest.loaders.email_message import MAX_ATTACHMENTS
from rag.errors import InvalidInput
from tests.documents import (
    encrypt_office,
    make_docx,
    make_eml,
    make_epub,
    make_pptx,
    make_table_pdf,
    make_xlsx,
)

LIMIT = 10_000_000
PRICES = [("Service", "Price (EUR)"), ("Haircut", "25"), ("Colour", "60.5")]


def test_csv_rows_under_their_header_in_the_files_delimiter_and_encoding() -> None:
    data = 'Service;Price (EUR)\nHaircut;25\n"Colour; tint";60,50\n'.encode("utf-16")
    text = load_bytes("prices.csv", data, LIMIT).pages[0].text
    assert text == "| Service | Price (EUR) |\n| --- | --- |\n| Haircut | 25 |\n| Colour; tint | 60,50 |"


def test_xlsx_sheets_are_pages_named_above_their_rows() -> None:
    document = load_bytes("book.xlsx", make_xlsx({"Prices": PRICES, "Blank": [], "Hours": [("Day", "Open")]}), LIMIT)
    assert [p.number for p in document.pages] == [1, 2, 3]
    rows = "| Service | Price (EUR) |\n| --- | --- |\n| Haircut | 25 |\n| Colour | 60.5 |"
    assert document.pages[0].text == f"Prices\n{rows}"
    assert document.pages[1].text == "" and document.pages[2].text == "Hours\nDay\nOpen"  # one row is no grid


def test_pptx_one_slide_one_page_with_its_speaker_notes() -> None:
    slides = [("Welcome", "Agenda for today", "Greet the new starters first."), ("Budget", "We spend 5k.", "")]
    document = load_bytes("deck.pptx", make_pptx(slides), LIMIT)
    assert [(p.number, p.text) for p in document.pages] == [
        (1, "Welcome\nAgenda for today\nSpeaker notes: Greet the new starters first."),
        (2, "Budget\nWe spend 5k."),
    ]


def test_eml_headers_body_and_a_line_naming_each_attachment_read_apart() -> None:
    attachments = [("prices.csv", b"Dish,Price\nSoup,3.50\n"), ("photo.png", b"\x89PNG"), ("broken.pdf", b"%PDF-")]
    document = load_bytes("canteen.eml", make_eml("Canteen prices", "New prices from Monday.", attachments), LIMIT)
    text = document.pages[0].text
    assert document.title == "Canteen prices"
    assert text.startswith("From: Dana Facilities <dana@example.org>\nTo: all-staff@example.org\nDate: ")
    assert "Subject: Canteen prices\n\nNew prices from Monday." in text
    assert "Attachment: prices.csv\n" in text and "Soup" not in text  # the attachment's text is its own document
    assert "Attachment: photo.png (not read: corrupt or unreadable image" in text  # images are read by OCR
    assert "Attachment: broken.pdf (not read: corrupt or unreadable PDF" in text
    [prices] = document.attachments
    assert (prices.name, prices.data) == ("prices.csv", b"Dish,Price\nSoup,3.50\n")
    assert prices.document.pages[0].text == "| Dish | Price |\n| --- | --- |\n| Soup | 3.50 |"


def test_eml_attachments_of_one_name_and_in_an_attached_message_each_get_a_name_of_their_own() -> None:
    inner = make_eml("Minutes", "See the notes.", [("notes.txt", b"Quorum reached.")])
    attachments = [("a.txt", b"first"), ("a.txt", b"second"), ("forwarded.eml", inner)]
    document = load_bytes("outer.eml", make_eml("Fwd", "Two files and a message.", attachments), LIMIT)
    names = [a.name for a in document.attachments]
    assert names == ["a.txt", "a (2).txt", "forwarded.eml", "forwarded.eml/notes.txt"]
    assert "Attachment: a (2).txt" in document.pages[0].text
    assert "Subject: Minutes" in document.attachments[2].document.pages[0].text


def test_eml_reads_no_more_than_its_attachment_limit() -> None:
    attachments = [(f"{n}.txt", f"note {n}".encode()) for n in range(MAX_ATTACHMENTS + 5)]
    document = load_bytes("many.eml", make_eml("Many", "Lots.", attachments), LIMIT)
    assert len(document.attachments) == MAX_ATTACHMENTS
    assert f"(further attachments not read: more than {MAX_ATTACHMENTS})" in document.pages[0].text


def test_epub_chapters_in_spine_order() -> None:
    book = make_epub("Field guide", [("Birds", "Robins sing at dawn."), ("Trees", "Oaks live for centuries.")])
    document = load_bytes("guide.epub", book, LIMIT)
    assert document.title == "Field guide"
    assert [p.text for p in document.pages] == ["Birds\n\nRobins sing at dawn.", "Trees\n\nOaks live for centuries."]


def test_a_ruled_pdf_table_becomes_markdown_rows() -> None:
    text = load_bytes("prices.pdf", make_table_pdf("Salon price list", PRICES), LIMIT).pages[0].text
    assert text == "Salon price list\n| Service | Price (EUR) |\n| --- | --- |\n| Haircut | 25 |\n| Colour | 60.5 |"


@pytest.mark.parametrize("kind", [".docx", ".xlsx", ".pptx"])
def test_a_password_protected_office_file_is_refused_with_the_reason(kind: str) -> None:
    plain = {".docx": make_docx(["Secret"]), ".xlsx": make_xlsx({"A": PRICES}), ".pptx": make_pptx([("A", "b", "")])}
    with pytest.raises(InvalidInput, match=f"password-protected \\{kind}: remove the password"):
        load_bytes(f"locked{kind}", encrypt_office(plain[kind]), LIMIT)


def test_an_old_binary_office_file_under_a_new_name_is_refused_with_the_reason() -> None:
    old_word = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1000
    with pytest.raises(InvalidInput, match=r"an old \.doc file \(binary Office format\), not \.docx"):
        load_bytes("report.docx", old_word, LIMIT)
