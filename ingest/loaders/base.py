"""What every loader returns: the document's text, page by page."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Section:
    """Where a heading's section starts in a page's text, and its heading path (outermost heading first)."""

    start: int
    path: tuple[str, ...]


@dataclass(frozen=True)
class Page:
    text: str
    number: int | None = None  # 1-based page number; None for formats without pages
    # The sections that start on this page, in order. Text before the first one belongs to the section the
    # previous page ended in (a PDF chapter runs over many pages).
    sections: tuple[Section, ...] = ()


@dataclass(frozen=True)
class OcrWord:
    """A word Tesseract read, where it stands: fractions of the page's width and height, so it maps onto the page
    rendered at any size."""

    text: str
    left: float
    top: float
    right: float
    bottom: float


@dataclass(frozen=True)
class OcrPage:
    text: str
    words: list[OcrWord]


@dataclass(frozen=True)
class LoadedDocument:
    pages: list[Page]
    title: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    ocr_pages: dict[int, OcrPage] = field(default_factory=dict)  # page number -> what OCR read on it, with boxes
    # Files that came inside this one (an e-mail's attachments), each stored as a document of its own.
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def page_count(self) -> int | None:
        numbered = [p.number for p in self.pages if p.number is not None]
        return max(numbered) if numbered else None


@dataclass(frozen=True)
class Attachment:
    """A file read from inside another (an e-mail's attachment): its name there, its bytes and its text."""

    name: str
    data: bytes
    document: LoadedDocument
