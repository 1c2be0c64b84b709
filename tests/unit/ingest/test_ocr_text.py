"""How Tesseract's TSV becomes a page's text and word boxes, and how scanned pages are named in messages."""

from __future__ import annotations

from ingest.loaders.ocr import parse_tsv
from ingest.loaders.pdf_ocr import describe_pages

HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"


def row(block: int, par: int, line: int, word: int, left: int, text: str) -> str:
    return f"5\t1\t{block}\t{par}\t{line}\t{word}\t{left}\t100\t50\t20\t96.5\t{text}"


def test_words_become_lines_and_paragraphs_in_reading_order() -> None:
    tsv = "\n".join([
        HEADER,
        "1\t1\t0\t0\t0\t0\t0\t0\t1000\t2000\t-1\t",  # the page row: no text
        row(1, 1, 1, 1, 100, "Annual"), row(1, 1, 1, 2, 200, "leave"),
        row(1, 1, 2, 1, 100, "27"), row(1, 1, 2, 2, 150, "days."),
        row(2, 1, 1, 1, 100, "Parking"), row(2, 1, 1, 2, 200, " "),  # an empty word is no word
    ])  # fmt: skip
    page = parse_tsv(tsv, 1000, 2000)
    assert page.text == "Annual leave\n27 days.\n\nParking"
    assert [w.text for w in page.words] == ["Annual", "leave", "27", "days.", "Parking"]
    first = page.words[0]
    assert (first.left, first.top, first.right, first.bottom) == (0.1, 0.05, 0.15, 0.06)  # fractions of the page


def test_quotes_in_recognised_text_do_not_break_the_rows() -> None:
    tsv = "\n".join([HEADER, row(1, 1, 1, 1, 10, '"Quoted'), row(1, 1, 1, 2, 60, 'words"')])
    assert parse_tsv(tsv, 100, 100).text == '"Quoted words"'


def test_scanned_pages_are_named_as_readers_count_them() -> None:
    assert describe_pages([0]) == "page 1"
    assert describe_pages([0, 1, 2, 3, 6, 8, 9]) == "pages 1-4, 7, 9-10"


def test_a_quote_is_outlined_line_by_line_on_the_words_ocr_read() -> None:
    from ingest.loaders.base import OcrWord
    from ingest.ocr_words import quote_boxes

    words = [
        OcrWord("Annual", 0.1, 0.10, 0.2, 0.12), OcrWord("leave:", 0.21, 0.10, 0.3, 0.12),
        OcrWord("27", 0.1, 0.15, 0.13, 0.17), OcrWord("days", 0.14, 0.15, 0.2, 0.17),
    ]  # fmt: skip
    assert quote_boxes(words, "ANNUAL  leave:\n27", 1000, 1000) == [(98, 98, 302, 122), (98, 148, 132, 172)]
    assert quote_boxes(words, "leave: 27 days", 1000, 1000)[1] == (98, 148, 202, 172)
    assert quote_boxes(words, "holiday", 1000, 1000) == []


def test_a_huge_page_is_rendered_within_the_pixel_cap() -> None:
    from ingest.loaders.ocr import MAX_PAGE_PIXELS, OCR_DPI
    from ingest.loaders.pdf_ocr import render_scale

    assert render_scale(595, 842) == OCR_DPI / 72  # A4 at 300 dpi: 8.7 megapixels
    scale = render_scale(14_400, 14_400)  # 5 x 5 metres: 3.6 gigapixels at 300 dpi
    assert 14_400 * 14_400 * scale * scale <= MAX_PAGE_PIXELS * 1.001
