"""A PDF page as a PNG (pypdfium2, Chrome's PDF engine), with a quoted passage highlighted on it.

The citation view shows the cited page itself; the quote is found in PDFium's own text of the page
(whitespace and case folded, since pypdf and PDFium break lines differently) and drawn over as boxes.
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageDraw

from rag.errors import NotFound, Unprocessable

# PDFium is not thread-safe: one render at a time per process (a page takes ~50-200 ms).
PDFIUM_LOCK = threading.Lock()
_HIGHLIGHT = (255, 214, 0, 110)  # translucent yellow
_OUTLINE = (200, 120, 0, 255)


@dataclass
class PageImage:
    png: bytes
    highlighted_boxes: int  # 0 when there was no quote or it was not found on the page


def render_page(pdf_path: Path, page_number: int, width: int, quote: str | None = None) -> PageImage:
    """Render page `page_number` (1-based) `width` pixels wide; outline `quote` where it appears."""
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(str(pdf_path))
        except pdfium.PdfiumError as exc:
            raise Unprocessable(f"the stored file cannot be opened as a PDF: {exc}") from exc
        try:
            if not 1 <= page_number <= len(pdf):
                raise NotFound(f"page {page_number} does not exist: the document has {len(pdf)} page(s)")
            page = pdf[page_number - 1]
            scale = width / page.get_width()
            image = page.render(scale=scale).to_pil().convert("RGBA")
            boxes = _quote_boxes(page, quote, scale) if quote else []
        finally:
            pdf.close()
    if boxes:
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for box in boxes:
            draw.rectangle(box, fill=_HIGHLIGHT, outline=_OUTLINE, width=2)
        image = Image.alpha_composite(image, overlay)
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", optimize=True)
    return PageImage(out.getvalue(), len(boxes))


def _quote_boxes(page: pdfium.PdfPage, quote: str, scale: float) -> list[tuple[float, float, float, float]]:
    """Pixel boxes (left, top, right, bottom) around the quote's characters on the page, or none."""
    textpage = page.get_textpage()
    text = textpage.get_text_range()
    folded, positions = _fold(text)
    target, _ = _fold(quote)
    found = folded.find(target.strip()) if target.strip() else -1
    if found < 0:
        return []
    first, last = positions[found], positions[found + len(target.strip()) - 1]
    height = page.get_height()
    boxes = []
    for i in range(textpage.count_rects(first, last - first + 1)):
        left, bottom, right, top = textpage.get_rect(i)
        boxes.append((left * scale - 2, (height - top) * scale - 2, right * scale + 2, (height - bottom) * scale + 2))
    return boxes


_SPACE = re.compile(r"\s")


def _fold(text: str) -> tuple[str, list[int]]:
    """Lower-case `text` with each whitespace run (line breaks included) as one space, and the index in
    `text` of every kept character, so a match in the folded text maps back to PDFium's characters."""
    chars: list[str] = []
    positions: list[int] = []
    for i, char in enumerate(text):
        if _SPACE.match(char) or char == "\x00":
            if chars and chars[-1] != " ":
                chars.append(" ")
                positions.append(i)
            continue
        chars.append(char.lower())
        positions.append(i)
    return "".join(chars), positions
