"""The words OCR read on scanned pages, kept beside the original file, and a quote found among them.

A scanned page has no text layer for PDFium to search, so the citation view outlines a quote with the word
boxes Tesseract gave when the page was read (fractions of the page, so any rendering size fits).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ingest.loaders.base import OcrPage, OcrWord

OCR_WORDS = ".ocr-words.json"  # kept beside the original: <sha256>.ocr-words.json
Box = tuple[float, float, float, float]  # left, top, right, bottom in pixels


def ocr_words_json(pages: dict[int, OcrPage]) -> bytes:
    """{"pages": {"3": [[word, left, top, right, bottom], ...]}}, 4 decimals (a tenth of a pixel at 1000 px)."""
    return json.dumps(
        {
            "pages": {
                str(n): [[w.text, *(round(v, 4) for v in (w.left, w.top, w.right, w.bottom))] for w in page.words]
                for n, page in pages.items()
            }
        },  # fmt: skip
        separators=(",", ":"),
    ).encode()


def page_words(original: Path, page_number: int) -> list[OcrWord]:
    """The OCR words of one page of the document kept at `original`; none when the page was not OCR'd."""
    path = original.with_name(original.name + OCR_WORDS)
    try:
        pages = json.loads(path.read_bytes())["pages"]
    except (OSError, ValueError, KeyError):
        return []
    return [
        OcrWord(text, left, top, right, bottom) for text, left, top, right, bottom in pages.get(str(page_number), [])
    ]


_SPACE = re.compile(r"\s+")


def quote_boxes(words: list[OcrWord], quote: str, width: int, height: int) -> list[Box]:
    """Pixel boxes around the words that spell `quote` (case and spacing folded), one per line of them."""
    target = _SPACE.sub(" ", quote).strip().lower()
    if not target or not words:
        return []
    text, owner = "", []  # the page's words joined by spaces, and which word each character belongs to
    for index, word in enumerate(words):
        folded = _SPACE.sub("", word.text).lower()
        if text:
            text += " "
            owner.append(index)
        text += folded
        owner.extend([index] * len(folded))
    found = text.find(target)
    if found < 0:
        return []
    picked = words[owner[found] : owner[found + len(target) - 1] + 1]
    lines: list[list[float]] = []
    for word in picked:
        box = [word.left * width, word.top * height, word.right * width, word.bottom * height]
        last = lines[-1] if lines else None
        if last is not None and box[1] < last[3] and box[3] > last[1] and box[0] >= last[0]:  # same line, further on
            last[1], last[2], last[3] = min(last[1], box[1]), max(last[2], box[2]), max(last[3], box[3])
        else:
            lines.append(box)
    return [(left - 2, top - 2, right + 2, bottom + 2) for left, top, right, bottom in lines]
