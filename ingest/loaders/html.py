"""HTML: visible text only (no scripts, styles or markup); tables as Markdown rows under their header row;
h1-h6 as section paths."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, NavigableString, Tag

from ingest.loaders.base import LoadedDocument, Page, Section
from ingest.loaders.encoding import decode_text
from ingest.loaders.sections import SectionTracker
from ingest.loaders.tables import markdown_table

INVISIBLE_TAGS = ["script", "style", "noscript", "template", "head", "svg", "iframe"]
_HEADING = re.compile(r"^h[1-6]$")
_BREAK = "\ue000"  # a private-use character: where a heading's block ends, until it becomes a blank line
MAX_SPAN = 100  # columns a cell's colspan may fill: a colspan of 10**9 is no table


def load_html(data: bytes) -> LoadedDocument:
    markup = decode_text(data, html=True)
    soup = BeautifulSoup(markup, "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else None
    for tag in soup(INVISIBLE_TAGS):
        tag.decompose()
    headings = [(int(h.name[1]), h.get_text(" ", strip=True), _first_line(h)) for h in soup.find_all(_HEADING)]
    text = visible_text(soup)
    if title and text.split("\n", 1)[0] != title:  # a page whose first heading is its title says it once
        text = f"{title}\n\n{text}"
    return LoadedDocument(pages=[Page(text, sections=_sections(text, headings))], title=title)


def _first_line(heading: Tag) -> str:
    """The heading's first line as `visible_text` writes it (inline tags may break a heading into lines)."""
    return next((line.strip() for line in heading.get_text("\n").splitlines() if line.strip()), "")


def _sections(text: str, headings: list[tuple[int, str, str]]) -> tuple[Section, ...]:
    """Each h1-h6 found in the text in order (a heading not found, e.g. inside a table, is skipped)."""
    tracker, cursor = SectionTracker(), 0
    for level, heading, first_line in headings:
        at = text.find(first_line, cursor) if first_line else -1
        if at < 0:
            continue
        tracker.heading(level, heading, at)
        cursor = at + len(first_line)
    return tuple(tracker.sections)


def visible_text(soup: BeautifulSoup | Tag) -> str:
    """The text a reader sees, a line per block, each table as Markdown rows; a heading stands alone between
    blank lines (else it reads as the start of the paragraph below it, and is quoted with it)."""
    for heading in soup.find_all(_HEADING):
        heading.insert_before(NavigableString(f"\n{_BREAK}\n"))
        heading.insert_after(NavigableString(f"\n{_BREAK}\n"))
    for table in reversed(soup.find_all("table")):
        if table.find_parent("table") is not None:  # a table in a cell: its text, in the cell's one line
            table.replace_with(NavigableString("; ".join(" ".join(filter(None, row)) for row in _rows(table))))
        else:
            table.replace_with(NavigableString(f"\n{markdown_table(_rows(table))}\n"))
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    text = "\n".join(line for line in lines if line)
    return re.sub(rf"(?:\n?{_BREAK}\n?)+", "\n\n", text).strip()


def _rows(table: Tag) -> list[list[str]]:
    """The table's cells row by row, the header row first (a `<thead>`'s or the first row with `<th>`), a
    cell spanning columns repeated in each."""
    rows = [row for row in table.find_all("tr") if row.find_parent("table") is table]
    header = next((row for row in rows if row.find_parent("thead") is not None), None)
    header = header or next((row for row in rows if row.find("th", recursive=False) is not None), None)
    if header is not None:
        rows = [header] + [row for row in rows if row is not header]
    cells: list[list[str]] = []
    for row in rows:
        values: list[str] = []
        for cell in row.find_all(("td", "th"), recursive=False):
            span = cell.get("colspan", "1")
            count = int(span) if isinstance(span, str) and span.strip().isdigit() else 1
            values += [cell.get_text(" ", strip=True)] * max(1, min(count, MAX_SPAN))
        cells.append(values)
    return cells
