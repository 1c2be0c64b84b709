"""`rag ingest` on scans and images, as a user runs it: a real process, the real Tesseract, or none on its PATH."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import BIN
from tests.documents import make_image_pdf, make_multipage_tiff

LEAVE = ["Annual leave policy", "Full-time employees get 27 days of paid annual leave."]
PARKING = ["Parking rules", "Visitors park in bay C behind the library."]


def rag(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "RAG_DATA_DIR": str(data_dir), "COLUMNS": "200", **env}
    return subprocess.run([str(BIN / "rag"), *args], capture_output=True, text=True, env=environment, timeout=900)


def test_scans_and_images_are_ingested_with_their_pages(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "scan.pdf").write_bytes(make_image_pdf([PARKING, LEAVE]))
    (docs / "fax.tiff").write_bytes(make_multipage_tiff([LEAVE, PARKING]))
    result = rag(["ingest", str(docs), "-c", "scans"], tmp_path / "data")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 ingested" in result.stdout
    listed = json.loads(rag(["docs", "list", "-c", "scans", "--json"], tmp_path / "data").stdout)
    assert {d["document_id"]: d["pages"] for d in listed} == {"scan.pdf": 2, "fax.tiff": 2}


def test_with_ocr_off_or_without_tesseract_a_scan_fails_saying_what_to_do(tmp_path: Path) -> None:
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(make_image_pdf([LEAVE]))
    off = rag(["ingest", str(scan), "-c", "scans"], tmp_path / "data", RAG_OCR="off")
    said = " ".join(off.stdout.split())  # however the terminal wrapped it
    assert off.returncode == 1
    assert "scan.pdf" in said and "OCR is off (RAG_OCR=off): set RAG_OCR=auto" in said

    no_tesseract = tmp_path / "bin"  # a PATH that holds no tesseract program
    no_tesseract.mkdir()
    missing = rag(["ingest", str(scan), "-c", "scans"], tmp_path / "data", PATH=str(no_tesseract))
    said = " ".join(missing.stdout.split())
    assert missing.returncode == 1
    assert "scan.pdf" in said and "Tesseract, which is not installed" in said
    assert "apt-get install tesseract-ocr" in said
