"""A PDF page (pypdfium2, Chrome's PDF engine) or a page of an image as a PNG, with a quoted passage highlighted.

The citation view shows the cited page itself; the quote is found in PDFium's own text of the page
(whitespace and case folded, since pypdf and PDFium break lines differently) and drawn over as boxes. A
scanned page or an image has no text layer: there the quote is found among the words OCR read on it
(ingest/ocr_words.py).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageOps

from ingest.ocr_words import Box, page_words, quote_boxes
from ingest.pdfium_lock import PDFIUM_LOCK
from rag.errors import NotFound, Unprocessable

_HIGHLIGHT = (255, 214, 0, 110)  # translucent yellow
_OUTLINE = (200, 120, 0, 255)


@dataclass
class PageImage:
    png: bytes
    highlighted_boxes: int  # 0 when there was no quote or it was not found on the page


def render_page(path: Path, page_number: int, width: int, quote: str | None = None, pdf: bool = True) -> PageImage:
    """Render page `page_number` (1-based) `width` pixels wide; outline `quote` where it appears. `pdf`: the
    file kept at `path` is a PDF, else an image (a page of a TIFF is a page)."""
    image, boxes = _render_pdf(path, page_number, width, quote) if pdf else (_image_page(path, page_number, width), [])
    if quote and not boxes:
        boxes = quote_boxes(page_words(path, page_number), quote, image.width, image.height)
    return _draw(image, boxes)


def _render_pdf(path: Path, page_number: int, width: int, quote: str | None) -> tuple[Image.Image, list[Box]]:
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(str(path))
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
    return image, boxes


def _image_page(path: Path, page_number: int, width: int) -> Image.Image:
    """Frame `page_number` of a kept image, upright and `width` pixels wide (its size was checked at ingestion)."""
    try:
        with Image.open(path) as picture:
            frames = getattr(picture, "n_frames", 1)
            if not 1 <= page_number <= frames:
                raise NotFound(f"page {page_number} does not exist: the document has {frames} page(s)")
            picture.seek(page_number - 1)
            upright = ImageOps.exif_transpose(picture).convert("RGBA")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise Unprocessable(f"the stored file cannot be opened as an image: {exc}") from exc
    return upright.resize((width, max(1, round(upright.height * width / upright.width))))


def _draw(image: Image.Image, boxes: list[Box]) -> PageImage:
    if boxes:
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for box in boxes:
            draw.rectangle(box, fill=_HIGHLIGHT, outline=_OUTLINE, width=2)
        image = Image.alpha_composite(image, overlay)
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", optimize=True)
    return PageImage(out.getvalue(), len(boxes))


def _quote_boxes(page: pdfium.PdfPage, quote: str, scale: float) -> list[Box]:
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
