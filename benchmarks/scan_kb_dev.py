"""A scanned copy of kb-dev, and how well OCR reads it.

    python benchmarks/scan_kb_dev.py make /tmp/kb-dev-docs /tmp/kb-dev-scanned    # each PDF page -> a 150 dpi image
    python benchmarks/scan_kb_dev.py cer /tmp/kb-dev-docs /tmp/kb-dev-scanned --every 10   # OCR vs the text layer
    python benchmarks/scan_kb_dev.py compare text-details.jsonl scan-details.jsonl --docs dvips.pdf gmpl.pdf

`make` renders every page of every PDF with PDFium at 150 dpi (grayscale) and writes image-only PDFs of the
same names, page for page (so kb-dev's gold pages still hold), copying the HTML and Markdown files as they are;
`rag eval ../shared/eval/kb-dev --docs /tmp/kb-dev-scanned` then answers over the scan. `cer` reads the scanned
pages through the service's own loader (Tesseract) and prints the character error rate against the original's
text layer (pypdf's text, as kb-dev's evidence is), both NFKC-folded with whitespace collapsed. `compare`
puts two `rag eval --details` files side by side for the questions whose gold page is in the given documents
(hit@1, hit@5, and the share of citations on a gold page): the text run and the scanned one.
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DPI = 150


def make(source: Path, target: Path) -> None:
    import pypdfium2 as pdfium

    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        if path.suffix.lower() != ".pdf":
            shutil.copy(path, target / path.name)
            continue
        pdf = pdfium.PdfDocument(str(path))
        images = [page.render(scale=DPI / 72, grayscale=True).to_pil() for page in pdf]
        pdf.close()
        out = io.BytesIO()
        images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=DPI)
        (target / path.name).write_bytes(out.getvalue())
        print(f"{path.name}: {len(images)} pages, {out.tell() / 1e6:.1f} MB as images")


def cer(source: Path, scanned: Path, every: int) -> None:
    import pypdfium2 as pdfium
    from pypdf import PdfReader

    from ingest.loaders.ocr import OCR_DPI, recognise

    errors = length = pages = 0
    seconds = 0.0
    rows = []
    for path in sorted(source.glob("*.pdf")):
        reference = [page.extract_text() or "" for page in PdfReader(str(path)).pages]
        pdf = pdfium.PdfDocument(str(scanned / path.name))
        doc_errors = doc_length = 0
        for index in range(0, len(pdf), every):
            image = pdf[index].render(scale=OCR_DPI / 72, grayscale=True).to_pil()
            start = time.perf_counter()
            text = recognise(image, "eng", OCR_DPI).text
            seconds += time.perf_counter() - start
            truth, read = fold(reference[index]), fold(text)
            doc_errors += levenshtein(truth, read)
            doc_length += len(truth)
            pages += 1
        pdf.close()
        errors, length = errors + doc_errors, length + doc_length
        rows.append((path.name, doc_errors / max(doc_length, 1)))
    for name, rate in rows:
        print(f"{name:24s} CER {rate:.3f}")
    print(f"all: CER {errors / max(length, 1):.3f} over {pages} pages (every {every}th), {length:,} characters;"
          f" Tesseract {pages / seconds:.2f} pages/s at {OCR_DPI} dpi")  # fmt: skip


def compare(text_details: Path, scan_details: Path, documents: list[str]) -> None:
    import json

    runs = {
        name: [json.loads(line) for line in path.read_text().splitlines()]
        for name, path in (("text", text_details), ("scan", scan_details))
    }
    for document in documents:
        for name, rows in runs.items():
            picked = [r for r in rows if r["answerable"] and r["gold"] and r["gold"][0][0] == document]
            gold = [{tuple(g) for g in r["gold"]} for r in picked]
            cited = [(tuple(c) in g) for r, g in zip(picked, gold, strict=True) for c in r["verdicts"]["citations"]]
            hit1 = sum(r["verdicts"]["hit@1"] for r in picked) / max(len(picked), 1)
            hit5 = sum(r["verdicts"]["hit@5"] for r in picked) / max(len(picked), 1)
            print(f"{document:20s} {name}: {len(picked)} questions, hit@1 {hit1:.3f}, hit@5 {hit5:.3f},"
                  f" citations on a gold page {sum(cited)}/{len(cited)}")  # fmt: skip


def fold(text: str) -> str:
    """NFKC (ligatures as letters), whitespace runs as one space: kb-dev's own comparison."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def levenshtein(a: str, b: str) -> int:
    """Edit distance, a row of the table at a time in numpy (nltk's pure-Python one takes ~10 s a page).

    Within a row, insertions chain left to right: d[j] = min over k <= j of (t[k] - k) + j, a running minimum."""
    if not a or not b:
        return max(len(a), len(b))
    codes_b = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    steps = np.arange(len(b) + 1)
    previous = steps.copy()
    for i, char in enumerate(a, start=1):
        cost = (codes_b != ord(char)).astype(np.int64)
        row = np.empty_like(previous)
        row[0] = i
        row[1:] = np.minimum(previous[1:] + 1, previous[:-1] + cost)
        previous = np.minimum.accumulate(row - steps) + steps
    return int(previous[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["make", "cer", "compare"])
    parser.add_argument(
        "source", type=Path, help="kb-dev's documents (its rebuild.sh); compare: the text run's details"
    )
    parser.add_argument("scanned", type=Path, help="where the scanned copy is (made); compare: the scan's details")
    parser.add_argument("--every", type=int, default=1, help="cer: read every Nth page only")
    parser.add_argument("--docs", nargs="*", default=[], help="compare: the scanned documents")
    args = parser.parse_args()
    if args.command == "compare":
        compare(args.source, args.scanned, args.docs)
    elif args.command == "make":
        make(args.source, args.scanned)
    else:
        cer(args.source, args.scanned, args.every)


if __name__ == "__main__":
    main()
