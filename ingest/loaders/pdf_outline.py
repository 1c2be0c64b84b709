"""A PDF's outline (bookmarks) as section paths: each entry's page and title, nested as the outline nests them."""

from __future__ import annotations

import logging
import re

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from ingest.loaders.base import Section
from ingest.loaders.sections import SectionTracker

log = logging.getLogger(__name__)

MAX_ENTRIES = 5_000  # a bigger outline is an index of every paragraph, not of sections
# Without an outline: a line of capitals alone is a heading (manual pages: NAME, SHELL GRAMMAR, SEE ALSO).
_CAPS_HEADING = re.compile(r"^[ \t]*([A-Z][A-Z0-9 '/&-]{2,40}[A-Z0-9])[ \t]*$", re.MULTILINE)


def outline_sections(reader: PdfReader, texts: list[str]) -> list[tuple[Section, ...]]:
    """The sections starting on each page (a list as long as `texts`); none when the PDF has no outline.

    An entry starts where its title is found on its page (outline titles often lack the number the page
    prints before them), or at the top of the page when it is not found."""
    sections: list[list[Section]] = [[] for _ in texts]
    try:
        entries = _entries(reader, reader.outline, 1)
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        log.info("PDF outline unreadable, no sections: %s", exc)
        entries = []
    if not entries:
        return capital_headings(texts)
    tracker = SectionTracker()
    cursors = [0] * len(texts)
    for page, level, title in sorted(entries, key=lambda e: e[0]):  # stable: outline order within a page
        if not 0 <= page < len(texts):
            continue
        match = _title_pattern(title).search(texts[page], cursors[page])
        start = match.start() if match else cursors[page]
        cursors[page] = match.end() if match else cursors[page]
        path = tracker.heading(level, title, start)
        if path is not None:  # two entries at one place (a chapter and its first section): the deeper one
            sections[page] = [s for s in sections[page] if s.start != start] + [Section(start, path)]
    return [tuple(page) for page in sections]


def _entries(reader: PdfReader, outline: list, level: int) -> list[tuple[int, int, str]]:  # type: ignore[type-arg]
    """(0-based page, level, title) of every entry, depth first; a list after an entry holds its children."""
    found: list[tuple[int, int, str]] = []
    for item in outline:
        if len(found) >= MAX_ENTRIES:
            break
        if isinstance(item, list):
            found += _entries(reader, item, level + 1)
            continue
        page = reader.get_destination_page_number(item)
        title = str(item.get("/Title") or "").strip()
        if page is not None and page >= 0 and title:
            found.append((page, level, title))
    return found[:MAX_ENTRIES]


def _title_pattern(title: str) -> re.Pattern[str]:
    """The title's words in order, any whitespace (or a line break) between them, any case."""
    words = title.split()
    return re.compile(r"\s+".join(re.escape(word) for word in words), re.IGNORECASE)


def capital_headings(texts: list[str]) -> list[tuple[Section, ...]]:
    """Sections from lines written in capitals alone, for PDFs without an outline; none when such lines are
    too rare (under 3: a title page) or too common (over one in five lines: a table or a shouting document)."""
    found = [
        [(m.start(1), m.group(1)) for m in _CAPS_HEADING.finditer(text) if sum(c.isalpha() for c in m.group(1)) >= 3]
        for text in texts
    ]
    count, lines = sum(len(page) for page in found), sum(text.count("\n") + 1 for text in texts)
    if count < 3 or count * 5 > lines:
        return [() for _ in texts]
    tracker = SectionTracker()
    return [tuple(Section(at, path) for at, title in page if (path := tracker.heading(1, title, at))) for page in found]
