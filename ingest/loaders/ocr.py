"""Tesseract OCR of page images: the text of a scanned page, and where each of its words stands.

Tesseract runs as Debian's `tesseract` program, the page image on its stdin and TSV (a row per word, with its
box) on its stdout. pytesseract does the same through temporary files; calling the program directly lets us
give it its own environment (one OpenMP thread: several threads per page fight over 2 cores and the
searches), kill it at a time limit, and save a dependency for ~30 lines. The program inherits the calling
thread's nice value, so OCR in a background job runs niced like the rest of the job (rag/priority.py).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from ingest.loaders.base import OcrPage, OcrWord
from rag.errors import InvalidInput, TooLarge, Unprocessable

OCR_DPI = 300  # Tesseract reads best at 300 dpi; PDF pages are rendered at it
MAX_OCR_PAGES = 1_000  # per document: ~1 hour of OCR on one core of this machine
MAX_PAGE_PIXELS = 40_000_000  # a page is rendered (or an image scaled) to at most this many pixels for Tesseract
MAX_IMAGE_PIXELS = 100_000_000  # an image (or TIFF page) bigger than this is refused unread: a decompression bomb
PAGE_TIMEOUT_S = 180.0  # one page; ~3 s on an idle core, far more behind other work at low priority
INSTALL_HINT = "install it (apt-get install tesseract-ocr, or RAG_SETUP_OCR=1 scripts/setup.sh)"

Progress = Callable[[int, int], None]  # (pages recognised, pages to recognise) of one file


@dataclass(frozen=True)
class OcrOptions:
    """How a file's pages are recognised: RAG_OCR (auto | off | force) and RAG_OCR_LANGUAGES, plus who hears
    of each page done (a background job's progress)."""

    mode: str = "auto"
    languages: str = "eng"
    progress: Progress | None = None


def tesseract_path() -> str | None:
    return shutil.which("tesseract")


def check_pages(count: int, what: str) -> None:
    if count > MAX_OCR_PAGES:
        raise TooLarge(f"{what} has {count:,} pages to OCR, over the limit of {MAX_OCR_PAGES:,}: split it")


def check_pixels(width: int, height: int, what: str) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise TooLarge(
            f"{what} is {width:,} x {height:,} pixels: over the limit of {MAX_IMAGE_PIXELS:,} pixels"
            " (a decompression bomb?)"
        )


def recognise(image: Image.Image, languages: str, dpi: int | None = None) -> OcrPage:
    """The text Tesseract reads on `image`, line by line and paragraph by paragraph, with its words' boxes."""
    program = tesseract_path()
    if program is None:
        raise InvalidInput(f"this file needs OCR, and Tesseract is not installed on the server: {INSTALL_HINT}")
    image = _fit(image.convert("L"))
    page = io.BytesIO()
    image.save(page, format="PPM")  # uncompressed: nothing spent encoding what Tesseract decodes at once
    command = [program, "stdin", "stdout", "-l", languages]
    if dpi:
        command += ["--dpi", str(dpi)]
    try:
        done = subprocess.run(
            [*command, "tsv"], input=page.getvalue(), capture_output=True, timeout=PAGE_TIMEOUT_S, check=False,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise Unprocessable(f"OCR of a page took over {PAGE_TIMEOUT_S:g} s and was stopped") from exc
    if done.returncode != 0:
        error = done.stderr.decode(errors="replace").strip()
        if "Failed loading language" in error or "Error opening data file" in error:
            raise InvalidInput(
                f"OCR languages {languages!r} (RAG_OCR_LANGUAGES) are not all installed: install their"
                " tesseract-ocr-LANG packages (e.g. apt-get install tesseract-ocr-deu)"
            )
        raise Unprocessable(f"OCR failed (tesseract exit {done.returncode}): {error[-300:]}")
    return parse_tsv(done.stdout.decode(errors="replace"), image.width, image.height)


def parse_tsv(tsv: str, width: int, height: int) -> OcrPage:
    """Tesseract's TSV as text (words of a line joined by spaces, lines by newlines, paragraphs and blocks by
    a blank line) and words with their boxes as fractions of the page."""
    lines: dict[tuple[int, int, int], list[str]] = {}
    words: list[OcrWord] = []
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        if row.get("level") != "5" or not text:
            continue
        key = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
        lines.setdefault(key, []).append(text)
        left, top = int(row["left"]), int(row["top"])
        right, bottom = left + int(row["width"]), top + int(row["height"])
        words.append(OcrWord(text, left / width, top / height, right / width, bottom / height))
    parts: list[str] = []
    previous: tuple[int, int] | None = None
    for (block, paragraph, _), line in lines.items():  # TSV rows come in reading order
        if previous is not None and previous != (block, paragraph):
            parts.append("")
        parts.append(" ".join(line))
        previous = (block, paragraph)
    return OcrPage("\n".join(parts), words)


def _fit(image: Image.Image) -> Image.Image:
    """The image scaled down to MAX_PAGE_PIXELS: Tesseract's time and memory grow with the pixels."""
    pixels = image.width * image.height
    if pixels <= MAX_PAGE_PIXELS:
        return image
    ratio = (MAX_PAGE_PIXELS / pixels) ** 0.5
    return image.resize((max(1, int(image.width * ratio)), max(1, int(image.height * ratio))))
