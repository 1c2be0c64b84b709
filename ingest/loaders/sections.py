"""Heading paths while a loader writes out a document: which headings are open where in the text."""

from __future__ import annotations

from ingest.loaders.base import Section

MAX_HEADING_CHARS = 200  # a "heading" longer than this is a styled paragraph, not a title


class SectionTracker:
    """Feed it headings (level, text) in reading order, with where each one starts in the text; it keeps the
    path of open headings (a level-2 heading closes the previous level-2 and everything below it)."""

    def __init__(self) -> None:
        self._open: list[tuple[int, str]] = []
        self.sections: list[Section] = []

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(text for _, text in self._open)

    def heading(self, level: int, text: str, start: int) -> tuple[str, ...] | None:
        """Open a heading; returns the new path, or None when `text` is no heading (empty, a paragraph)."""
        text = " ".join(text.split())
        if not text or len(text) > MAX_HEADING_CHARS:
            return None
        while self._open and self._open[-1][0] >= level:
            self._open.pop()
        self._open.append((level, text))
        self.enter(self.path, start)
        return self.path

    def enter(self, path: tuple[str, ...], start: int) -> None:
        """Record that `path` is the section from `start` on (one entry per offset: the last one wins). Headings
        over MAX_HEADING_CHARS leave the path here too: every chunk below one carries the path, and a one-line
        Markdown file of 3 MB that starts with `#` once gave each of its 6,000 chunks the 3 MB line (18 GB)."""
        path = tuple(part for part in path if len(part) <= MAX_HEADING_CHARS)
        if self.sections and self.sections[-1].start == start:
            self.sections.pop()
        if not self.sections or self.sections[-1].path != path:
            self.sections.append(Section(start, path))
