"""OCR speed on this machine, and OCR's share of ingesting a scanned document.

    .venv/bin/python benchmarks/ocr.py                       # sample_docs/employee_handbook.pdf, scanned at 150 dpi
    .venv/bin/python benchmarks/ocr.py --pdf some.pdf --dpi 200

The PDF's pages are rendered at `--dpi` into an image-only PDF (a scan of it), which is then ingested twice
through the real pipeline into fresh data dirs, in one process: once as the scan (OCR'd page by page) and once
as the original text PDF (the baseline). Printed: pages/s of OCR (render + Tesseract, measured around the
loader's OCR step), the scan's ingestion seconds with OCR's share of them, and the text PDF's ingestion
seconds beside it. Model loading is excluded (a warm-up ingest runs first). Other work on the machine
swings the seconds by 2x or more: Tesseract's own CPU seconds a page (its child-process rusage) are printed
too, the figure that holds under load (pages/s per free core).
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def scan(pdf: bytes, dpi: int) -> tuple[bytes, int]:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    images = [page.render(scale=dpi / 72, grayscale=True).to_pil() for page in document]
    document.close()
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return out.getvalue(), len(images)


def _children_cpu() -> float:
    """CPU seconds of finished child processes (Tesseract): what a page costs whatever else the machine runs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pdf", type=Path, default=ROOT / "sample_docs" / "employee_handbook.pdf")
    parser.add_argument("--dpi", type=int, default=150, help="resolution of the scan made of the PDF")
    args = parser.parse_args()

    from ingest.loaders import pdf_ocr
    from ingest.pipeline import Source
    from ingest.service import build_pipeline
    from rag.config import Settings
    from rag.retrieval.components import build_components

    original = args.pdf.read_bytes()
    scanned, pages = scan(original, args.dpi)
    ocr_seconds = tesseract_cpu = 0.0
    read_scans = pdf_ocr.read_scans

    def timed(*a, **k):  # type: ignore[no-untyped-def]
        nonlocal ocr_seconds, tesseract_cpu
        start, children = time.perf_counter(), _children_cpu()
        try:
            return read_scans(*a, **k)
        finally:
            ocr_seconds += time.perf_counter() - start
            tesseract_cpu += _children_cpu() - children

    pdf_ocr.read_scans = timed  # type: ignore[assignment]
    import ingest.loaders.pdf as pdf_loader

    pdf_loader.read_scans = timed  # type: ignore[assignment]  # the name the loader calls

    def ingest(name: str, data: bytes) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(_env_file=None, data_dir=Path(tmp) / "data")  # type: ignore[call-arg]
            pipeline = build_pipeline(build_components(settings))
            start = time.perf_counter()
            (result,) = pipeline.ingest([Source.from_bytes(name, data)], "bench")
            seconds = time.perf_counter() - start
            assert result.status == "ingested", result
            return seconds

    ingest("warmup.txt", b"Warm-up: loads the models before anything is timed.")
    text_seconds = ingest(args.pdf.name, original)
    ocr_seconds = tesseract_cpu = 0.0
    scan_seconds = ingest(args.pdf.name, scanned)
    print(f"{args.pdf.name}: {pages} pages scanned at {args.dpi} dpi ({len(scanned) / 1e6:.1f} MB)")
    print(f"OCR: {pages / ocr_seconds:.2f} pages/s ({ocr_seconds / pages:.1f} s a page, render + Tesseract at 300 dpi)")
    print(f"Tesseract CPU: {tesseract_cpu / pages:.2f} s a page, {pages / tesseract_cpu:.2f} pages/s per free core")
    print(f"scan ingested in {scan_seconds:.1f} s, OCR {ocr_seconds:.1f} s of it: {ocr_seconds / scan_seconds:.0%}")
    print(f"text PDF ingested in {text_seconds:.1f} s: the scan took {scan_seconds / text_seconds:.1f}x as long")


if __name__ == "__main__":
    main()
