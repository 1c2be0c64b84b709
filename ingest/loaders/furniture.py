"""Page furniture of PDFs: running headers and footers, page numbers and table-of-contents entries.

A running header is found by repetition, not by a list of wordings: a line at the top or bottom of several
pages that reads the same on each once its numbers are set aside, each number either the same on every
page ("GNU Bash 5.2") or the printed page number, which moves with the page ("Chapter 3: Objects 15" on
page 21, "... 16" on page 22). "Chapter 2" at the top of page 9 and "Chapter 3" at the top of page 20 is
neither, so a chapter's real heading stays. Written by hand: pypdf returns text per page and no library
we have looks across pages.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

EDGE_LINES = 3  # lines looked at from the top and from the bottom of each page
# A line is furniture when it recurs on this many pages (fewer in a shorter document): unchanged, or with a
# number that moves with the page, its offset from the physical page the same on that many pages (the front
# matter numbered in roman numerals, the body from 1: two offsets).
_MIN_PAGES = 3
_NUMBER = re.compile(r"\d+")
_ROMAN = re.compile(r"(?=[ivxlc])(c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})", re.IGNORECASE)
# "12", "- 12 -", "[12]", "Page 12", "Page 12 of 40", "12 / 40", "xii": a line that is only a page number.
_PAGE_NUMBER = re.compile(r"[-–—\[(\s]*(?:page\s+)?(\w+)(?:\s*(?:of|/)\s*\d+)?[-–—\])\s]*", re.IGNORECASE)
# A contents or index entry: a title, a leader of dots (five or more, or a short spaced one before the page)
# and the pages it is on ("7, 8", "12-14", none when they were set apart); only on a page with several of
# them, since a dotted line in a formula is no contents entry.
_PAGES = r"(?:\d+|[ivxlc]+)(?:\s*[,–-]\s*(?:\d+|[ivxlc]+))*"
_TOC_ENTRY = re.compile(rf".*?[^.\s].*?(?:(?:\s?\.){{5,}}\s*(?:{_PAGES})?|(?:\s\.){{2,}}\s+{_PAGES})\s*", re.IGNORECASE)
_MIN_CONTENTS_ENTRIES = 3


@dataclass(frozen=True)
class _EdgeLine:
    page: int  # index in the document
    line: int  # index in the page's lines
    numbers: tuple[int, ...]


def remove_page_furniture(pages: list[str]) -> list[str]:
    """Each page's text without its running header/footer, page number and contents entries. A page of
    one document alone has nothing to compare with and is returned as it is."""
    furniture = find_furniture(pages)
    if all(
        len(found) >= sum(1 for line in text.splitlines() if line.strip())
        for found, text in zip(furniture, pages, strict=True)
    ):
        return pages  # nothing would be left: whatever repeats here is the document itself
    return [
        "\n".join(line for i, line in enumerate(text.splitlines()) if i not in furniture[page])
        if furniture[page] else text
        for page, text in enumerate(pages)
    ]  # fmt: skip


def find_furniture(pages: list[str]) -> list[set[int]]:
    """For each page, the indices (in `text.splitlines()`) of its furniture lines."""
    if len(pages) < 2:
        return [set() for _ in pages]
    lines = [text.splitlines() for text in pages]
    found = [_contents_entries(page) for page in lines]
    groups: dict[str, list[_EdgeLine]] = defaultdict(list)
    for page, page_lines in enumerate(lines):
        filled = [i for i, line in enumerate(page_lines) if line.strip()]
        for i in dict.fromkeys(filled[:EDGE_LINES] + filled[-EDGE_LINES:]):
            signature, numbers = _signature(page_lines[i])
            if signature:
                groups[signature].append(_EdgeLine(page, i, numbers))
    least = min(_MIN_PAGES, len(pages))
    unchanging: list[list[_EdgeLine]] = []
    for group in groups.values():
        kept, moving = _running(group, least)
        if moving:
            for edge in kept:
                found[edge.page].add(edge.line)
        elif kept:
            unchanging.append(kept)
    # A line without a page number is furniture only where it is outermost on its page once the furniture
    # around it is gone: content that repeats ("See also") sits deeper in the page.
    while True:
        added = False
        for group in unchanging:
            outer = [e for e in group if e.line not in found[e.page] and _outermost(lines[e.page], e, found)]
            if len({e.page for e in outer}) >= least:
                for edge in outer:
                    found[edge.page].add(edge.line)
                added = True
        if not added:
            return found


def _contents_entries(lines: list[str]) -> set[int]:
    """The page's contents (or index) entries, when it holds enough of them to be such a page."""
    entries = {i for i, line in enumerate(lines) if _TOC_ENTRY.fullmatch(line.strip())}
    return entries if len(entries) >= _MIN_CONTENTS_ENTRIES else set()


def _outermost(lines: list[str], edge: _EdgeLine, found: list[set[int]]) -> bool:
    """True when only blank lines and furniture stand between the line and the top or bottom of its page."""
    furniture, index = found[edge.page], edge.line

    def clear(indices: range) -> bool:
        return all(not lines[i].strip() or i in furniture for i in indices)

    return clear(range(index)) or clear(range(index + 1, len(lines)))


def _signature(line: str) -> tuple[str, tuple[int, ...]]:
    """The line with its numbers set aside (lower case, spaces folded), and those numbers; "" for a line
    that cannot be a header (no letters and no page number)."""
    text = " ".join(line.split())
    if text.startswith("|"):  # a table's row: a header row repeated at the top of each page is the table's own
        return "", ()
    bare = _PAGE_NUMBER.fullmatch(text)
    if bare:
        value = _page_number_value(bare.group(1))
        if value is not None:
            return _NUMBER.sub("#", text.replace(bare.group(1), "#")).lower(), (value,)
    if not any(char.isalpha() for char in text):
        return "", ()
    return _NUMBER.sub("#", text).lower(), tuple(int(n) for n in _NUMBER.findall(text))


def _page_number_value(token: str) -> int | None:
    if token.isdigit():
        return int(token)
    roman = _ROMAN.fullmatch(token)
    if not roman:
        return None
    values = {"c": 100, "l": 50, "x": 10, "v": 5, "i": 1}
    digits = [values[char] for char in token.lower()]
    return sum(-d if d < following else d for d, following in zip(digits, digits[1:] + [0], strict=True))


def _running(lines: list[_EdgeLine], least: int) -> tuple[list[_EdgeLine], bool]:
    """The occurrences of one line signature that are furniture, and whether a number in it is the page's:
    each number is either the same on at least `least` pages or moves with the page (its offset from the
    physical page shared by `least` pages); a stray occurrence (a table's last number alone on its line)
    is left out."""
    if any(len(edge.numbers) != len(lines[0].numbers) for edge in lines):
        return [], False
    kept, moving_positions = lines, 0
    for position in range(len(lines[0].numbers)):
        same: dict[int, set[int]] = defaultdict(set)
        offset: dict[int, set[int]] = defaultdict(set)
        for edge in kept:
            same[edge.numbers[position]].add(edge.page)
            offset[edge.page - edge.numbers[position]].add(edge.page)
        constant = [e for e in kept if len(same[e.numbers[position]]) >= least]
        paged = [e for e in kept if len(offset[e.page - e.numbers[position]]) >= least]
        if len(paged) > len(constant):
            kept, moving_positions = paged, moving_positions + 1
        else:
            kept = constant
    if moving_positions > 1:  # a header holds one page number; a line whose numbers all move with the page is text
        return [], False
    moving = moving_positions == 1
    return (kept, moving) if len({edge.page for edge in kept}) >= least else ([], False)
