"""PDFium is not thread-safe: one call into it at a time per process, whether it renders a page for the citation
view (ingest/page_images.py, ~50-200 ms) or for OCR (ingest/loaders/pdf_ocr.py)."""

from __future__ import annotations

import threading

PDFIUM_LOCK = threading.Lock()
