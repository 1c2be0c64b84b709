"""Scanned PDFs and images read by the real Tesseract (Debian's tesseract-ocr), from files made in the test."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ingest.loaders import OcrOptions, load_bytes
from rag.errors import InvalidInput, TooLarge
from tests.documents import make_image_pdf, make_multipage_tiff, render_text_image

LIMIT = 50 * 1024 * 1024
LEAVE = ["Annual leave policy", "Full-time employees get 27 days of paid annual leave."]
PARKING = ["Parking rules", "Visitors park in bay C behind the library."]
TEXT_PAGE = "This page has a text layer: the canteen opens at 11:30 on weekdays."


def words(text: str) -> str:
    return " ".join(text.split())


def test_a_scanned_pdf_is_read_page_by_page() -> None:
    document = load_bytes("scan.pdf", make_image_pdf([LEAVE, PARKING]), LIMIT)
    assert [p.number for p in document.pages] == [1, 2]
    assert "27 days of paid annual leave" in words(document.pages[0].text)
    assert "bay C behind the library" in words(document.pages[1].text)
    assert sorted(document.ocr_pages) == [1, 2]
    leave = [w for w in document.ocr_pages[1].words if w.text == "leave"]
    assert leave and all(0 < w.left < w.right < 1 and 0 < w.top < w.bottom < 0.5 for w in leave)  # top of the page


def test_a_mixed_pdf_keeps_its_text_pages_as_they_are() -> None:
    progress: list[tuple[int, int]] = []
    document = load_bytes(
        "mixed.pdf", make_image_pdf([TEXT_PAGE, LEAVE, TEXT_PAGE]), LIMIT,
        OcrOptions(progress=lambda done, total: progress.append((done, total))),
    )  # fmt: skip
    assert document.pages[0].text == document.pages[2].text == TEXT_PAGE  # the text layer, not OCR's reading
    assert "27 days of paid annual leave" in words(document.pages[1].text)
    assert list(document.ocr_pages) == [2] and progress == [(0, 1), (1, 1)]


def test_forced_ocr_reads_text_pages_too() -> None:
    document = load_bytes("mixed.pdf", make_image_pdf([TEXT_PAGE, LEAVE]), LIMIT, OcrOptions("force"))
    assert sorted(document.ocr_pages) == [1, 2]
    assert "canteen opens at 11:30" in words(document.pages[0].text)


def test_with_ocr_off_a_scan_is_refused_and_a_mixed_pdf_keeps_its_text() -> None:
    with pytest.raises(InvalidInput, match=r"no text layer on pages 1-2, and OCR is off \(RAG_OCR=off\)"):
        load_bytes("scan.pdf", make_image_pdf([LEAVE, PARKING]), LIMIT, OcrOptions("off"))
    document = load_bytes("mixed.pdf", make_image_pdf([TEXT_PAGE, LEAVE]), LIMIT, OcrOptions("off"))
    assert [p.text for p in document.pages] == [TEXT_PAGE, ""] and not document.ocr_pages
    with pytest.raises(InvalidInput, match="OCR is off"):
        load_bytes("photo.png", render_text_image(LEAVE), LIMIT, OcrOptions("off"))


def test_without_tesseract_a_scan_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without the tesseract program
    with pytest.raises(InvalidInput, match="Tesseract, which is not installed.*apt-get install tesseract-ocr"):
        load_bytes("scan.pdf", make_image_pdf([LEAVE]), LIMIT)
    with pytest.raises(InvalidInput, match="Tesseract is not installed"):
        load_bytes("photo.jpg", render_text_image(LEAVE, format="JPEG"), LIMIT)
    assert load_bytes("text.pdf", make_image_pdf([TEXT_PAGE]), LIMIT).pages[0].text == TEXT_PAGE  # no OCR needed


@pytest.mark.parametrize(("filename", "image_format"), [("notice.png", "PNG"), ("notice.jpeg", "JPEG")])
def test_an_image_is_one_page_of_text(filename: str, image_format: str) -> None:
    document = load_bytes(filename, render_text_image(PARKING, format=image_format), LIMIT)
    assert [p.number for p in document.pages] == [1]
    assert "Visitors park in bay C behind the library." in words(document.pages[0].text)


def test_each_page_of_a_tiff_is_a_page() -> None:
    document = load_bytes("fax.tif", make_multipage_tiff([LEAVE, PARKING]), LIMIT)
    assert [p.number for p in document.pages] == [1, 2]
    assert "bay C" in document.pages[1].text and "27 days" in document.pages[0].text


@pytest.mark.parametrize("side", [12_000, 20_000])  # over our limit; over Pillow's too
def test_an_image_bomb_is_refused_before_it_is_decoded(side: int) -> None:
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, format="PNG")  # 144 or 400 megapixels in a few dozen KB
    assert len(out.getvalue()) < 200_000
    with pytest.raises(TooLarge, match="over the limit of 100,000,000 pixels"):
        load_bytes("bomb.png", out.getvalue(), LIMIT)


def test_a_corrupt_image_gets_a_reason() -> None:
    with pytest.raises(InvalidInput, match="corrupt or unreadable image"):
        load_bytes("broken.tiff", b"II*\x00garbage", LIMIT)


def test_a_stopped_job_stops_reading_a_scan_within_a_page(pipeline) -> None:  # type: ignore[no-untyped-def]
    """A shutdown (or a lost lease) mid-scan hands the job back after the page in hand, not after 4 pages more."""
    import threading

    from ingest.pipeline import IngestStopped, Source

    stop, read = threading.Event(), []

    def page_read(index: int, done: int, total: int) -> None:
        read.append((done, total))
        if done == 1:
            stop.set()  # as the job's heartbeat thread does on SIGTERM

    scan = Source.from_bytes("scan.pdf", make_image_pdf([LEAVE, PARKING] * 3))
    with pytest.raises(IngestStopped):
        pipeline.ingest([scan], "docs", background=True, stop=stop, pages=page_read)
    assert read == [(0, 6), (1, 6)]  # the second page was the last read; the four after it never were
    assert pipeline.registry.get("docs", "scan.pdf") is None  # nothing half-stored: the job runs it again
