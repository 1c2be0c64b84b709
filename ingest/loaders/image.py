"""Images (PNG, JPEG, TIFF) read by OCR: each image, or each page of a multi-page TIFF, is one page.

Pillow reads only an image's header on open, so its size is checked before any pixel is decoded: a few
kilobytes of PNG can declare a gigapixel (a decompression bomb).
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from ingest.loaders.base import LoadedDocument, OcrPage, Page
from ingest.loaders.ocr import (
    INSTALL_HINT,
    MAX_IMAGE_PIXELS,
    OcrOptions,
    check_pages,
    check_pixels,
    recognise,
    tesseract_path,
)
from rag.errors import InvalidInput, TooLarge


def load_image(data: bytes, ocr: OcrOptions | None = None) -> LoadedDocument:
    ocr = ocr or OcrOptions()
    if ocr.mode == "off":
        raise InvalidInput("an image is read by OCR, and OCR is off (RAG_OCR=off): set RAG_OCR=auto")
    if tesseract_path() is None:
        raise InvalidInput(f"an image is read by OCR, and Tesseract is not installed on the server: {INSTALL_HINT}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is checked below
            image = Image.open(io.BytesIO(data))
            check_pixels(image.width, image.height, "image")
            frames = getattr(image, "n_frames", 1)
            check_pages(frames, "image")
            pages: list[Page] = []
            recognised: dict[int, OcrPage] = {}
            if ocr.progress is not None:
                ocr.progress(0, frames)
            for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
                check_pixels(frame.width, frame.height, f"page {number} of the image")
                dpi = frame.info.get("dpi")
                upright = ImageOps.exif_transpose(frame)  # a phone's photo, stored sideways with an EXIF turn
                read = recognise(upright, ocr.languages, int(dpi[0]) if dpi and dpi[0] >= 70 else None)
                pages.append(Page(read.text, number))
                recognised[number] = read
                if ocr.progress is not None:
                    ocr.progress(number, frames)
    except (TooLarge, InvalidInput):
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own limit, twice ours, refused at open
        limit = MAX_IMAGE_PIXELS
        raise TooLarge(f"image is over the limit of {limit:,} pixels (a decompression bomb?): {exc}") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InvalidInput(f"corrupt or unreadable image ({type(exc).__name__}: {exc})") from exc
    if not any(page.text.strip() for page in pages):
        raise InvalidInput("OCR read no text in the image")
    return LoadedDocument(pages=pages, ocr_pages=recognised)
