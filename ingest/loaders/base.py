"""What every loader returns: the document's text, page by page."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Page:
    text: str
    number: int | None = None  # 1-based page number; None for formats without pages


@dataclass(frozen=True)
class LoadedDocument:
    pages: list[Page]
    title: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def page_count(self) -> int | None:
        numbered = [p.number for p in self.pages if p.number is not None]
        return max(numbered) if numbered else None
