"""OCR of the PDF pages that have no usable text layer: each is rendered with PDFium and read by Tesseract.

A page is a scan when its text layer holds almost nothing and it draws an image (RAG_OCR=auto); a page of text
keeps its own text, so a mixed PDF is OCR'd only where it needs to be. RAG_OCR=force reads every page as an
image (a broken text layer), RAG_OCR=off none (a scan is then refused, saying so).
"""

from __future__ import annotations

import logging

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ingest.loaders.base import OcrPage
from ingest.loaders.ocr import (
    INSTALL_HINT,
    MAX_PAGE_PIXELS,
    OCR_DPI,
    OcrOptions,
    check_pages,
    recognise,
    tesseract_path,
)
from ingest.pdfium_lock import PDFIUM_LOCK
from rag.errors import InvalidInput

log = logging.getLogger(__name__)

# Fewer characters than this on a page that draws an image: a scan (a stamped page number or a scanner's
# header line is all such a page's text layer holds).
MIN_TEXT_CHARS = 20


def scanned_pages(data: bytes, texts: list[str], mode: str) -> list[int]:
    """The 0-based indexes of the pages to OCR: every page when forced, else those without usable text."""
    if mode == "force":
        return list(range(len(texts)))
    few = [i for i, text in enumerate(texts) if len("".join(text.split())) < MIN_TEXT_CHARS]
    if not few:
        return []
    with PDFIUM_LOCK:
        pdf = _open(data)
        try:
            return [i for i in few if _draws_image(pdf[i])]
        finally:
            pdf.close()


def has_scanned_pages(path: str) -> bool:
    """Whether RAG_OCR=auto would OCR a page of the PDF at `path`: PDFium's character count, no text extraction,
    so an upload can be sent to a background job before it is read (an unreadable file: no, the loader says why)."""
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(path)
        except pdfium.PdfiumError:
            return False
        try:
            for page in pdf:
                textpage = page.get_textpage()
                if textpage.count_chars() >= MIN_TEXT_CHARS * 4:  # plainly a page of text: no need to read it
                    continue
                text = textpage.get_text_range()
                if len("".join(text.split())) < MIN_TEXT_CHARS and _draws_image(page):
                    return True
            return False
        finally:
            pdf.close()


def read_scans(data: bytes, indexes: list[int], options: OcrOptions, has_text: bool) -> dict[int, OcrPage]:
    """What Tesseract reads on each of those pages (0-based index -> page); refuses, saying what to do, when OCR
    is off or missing. With RAG_OCR=off a PDF that has text elsewhere keeps it and loses only its scans."""
    if not indexes:
        return {}
    where = describe_pages(indexes)
    if options.mode == "off":
        if has_text:
            log.warning("PDF: %s without a text layer left unread (RAG_OCR=off)", where)
            return {}
        raise InvalidInput(f"scanned PDF: no text layer on {where}, and OCR is off (RAG_OCR=off): set RAG_OCR=auto")
    if tesseract_path() is None:
        raise InvalidInput(
            f"scanned PDF: no text layer on {where}, and OCR needs Tesseract, which is not installed on the server:"
            f" {INSTALL_HINT}"
        )
    check_pages(len(indexes), "scanned PDF")
    pages: dict[int, OcrPage] = {}
    with PDFIUM_LOCK:
        pdf = _open(data)
    try:
        if options.progress is not None:
            options.progress(0, len(indexes))
        for done, index in enumerate(indexes, start=1):
            with PDFIUM_LOCK:  # PDFium is not thread-safe; the lock is held for one render, not for Tesseract
                page = pdf[index]
                scale = render_scale(page.get_width(), page.get_height())
                image = page.render(scale=scale, grayscale=True).to_pil()
            pages[index] = recognise(image, options.languages, round(scale * 72))
            if options.progress is not None:
                options.progress(done, len(indexes))
    finally:
        with PDFIUM_LOCK:
            pdf.close()
    return pages


def render_scale(width_pt: float, height_pt: float) -> float:
    """PDF points to pixels: OCR_DPI, less for a page so big it would pass MAX_PAGE_PIXELS (a poster, or a
    few bytes of PDF declaring a page of 5 x 5 metres): the cap holds before PDFium allocates a pixel."""
    scale = OCR_DPI / 72
    pixels = width_pt * height_pt * scale * scale
    return scale if pixels <= MAX_PAGE_PIXELS else scale * (MAX_PAGE_PIXELS / max(pixels, 1.0)) ** 0.5


def describe_pages(indexes: list[int]) -> str:
    """`page 3`, `pages 1-4, 7`: 0-based indexes as a reader counts pages."""
    runs: list[list[int]] = []
    for number in (i + 1 for i in indexes):
        if runs and runs[-1][-1] == number - 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    spans = [f"{run[0]}" if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs]
    return ("page " if len(indexes) == 1 else "pages ") + ", ".join(spans)


def _open(data: bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise InvalidInput(f"corrupt or unreadable PDF (PDFium: {exc})") from exc


def _draws_image(page: pdfium.PdfPage) -> bool:
    return next(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3), None) is not None
