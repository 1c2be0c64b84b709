"""Ruled tables of PDF pages as Markdown rows (pdfplumber), in place of pypdf's stream of cells.

pypdf reads a table cell after cell in drawing order, so a price list comes out as "Haircut 25 Colour 60" and
no row can be quoted with its column names. pdfplumber finds a table by its ruling lines and reads it cell by
cell; a page that holds one is read by pdfplumber instead: its text above, between and below the tables as
it stands, each table as rows under its header row. pdfplumber lays out every character (about 0.3 s a
page here), so only pages whose content draws enough lines for a grid are given to it, within a time budget
per document; past it, or on any error of pdfplumber's, a page keeps pypdf's text.
"""

from __future__ import annotations

import io
import logging
import re
import time

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from ingest.loaders.tables import markdown_table

log = logging.getLogger(__name__)

MAX_TABLE_SECONDS = 20.0  # per document, spent on the pages that may hold a table
MIN_PATH_OPERATORS = 4  # a grid of 2 x 2 cells draws at least this many lines or rectangles
_PATH_OPERATOR = re.compile(rb"[\s\d.](?:re|l)\s")  # "x y w h re", "x y l"


def with_tables(data: bytes, reader: PdfReader, texts: list[str]) -> list[str]:
    """`texts` (pypdf's, one per page) with each page that holds a ruled table read again, tables as rows."""
    candidates = [i for i, page in enumerate(reader.pages) if _draws_lines(page)]
    if not candidates:
        return texts
    texts = list(texts)
    deadline = time.monotonic() + MAX_TABLE_SECONDS
    try:
        import pdfplumber

        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for index in candidates:
                if time.monotonic() > deadline:
                    log.info("PDF tables: time budget spent, %d pages keep their plain text", len(candidates))
                    break
                page = pdf.pages[index]
                text = _page_text(page)
                page.close()
                if text is not None:
                    texts[index] = text
    except Exception:  # noqa: BLE001 - tables are a refinement: pypdf's text stands whatever pdfplumber meets
        log.warning("PDF tables: pdfplumber could not read the file; its pages keep their plain text", exc_info=True)
    return texts


def _draws_lines(page) -> bool:  # type: ignore[no-untyped-def]
    try:
        contents = page.get_contents()
        return contents is not None and len(_PATH_OPERATOR.findall(contents.get_data())) >= MIN_PATH_OPERATORS
    except (PyPdfError, ValueError, KeyError, TypeError, OSError):
        return False


def _page_text(page) -> str | None:  # type: ignore[no-untyped-def]
    """The page's text with its tables as Markdown rows, top to bottom; None when it holds no table."""
    tables = []
    for table in page.find_tables():
        rows = table.extract()
        if len(rows) >= 2 and max(len(row) for row in rows) >= 2:
            tables.append((table.bbox, markdown_table(rows)))
    if not tables:
        return None
    parts: list[str] = []
    top = page.bbox[1]
    for (_, table_top, _, table_bottom), rows in sorted(tables, key=lambda t: t[0][1]):
        if table_top > top:
            parts.append(_text_between(page, top, table_top))
        parts.append(rows)
        top = max(top, table_bottom)
    if top < page.bbox[3]:
        parts.append(_text_between(page, top, page.bbox[3]))
    return "\n".join(part for part in parts if part.strip())


def _text_between(page, top: float, bottom: float) -> str:  # type: ignore[no-untyped-def]
    x0, _, x1, _ = page.bbox
    return page.crop((x0, top, x1, bottom), strict=False).extract_text() or ""
