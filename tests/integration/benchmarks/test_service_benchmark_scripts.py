"""Smoke runs of the benchmarks that start servers or need PostgreSQL, Chromium or Tesseract (installed in
CI by scripts/setup.sh; as in the other tests, a missing one fails rather than skips), at the smallest size:
a few documents, a few requests, a second or two of load. Only the lines their readers look for are checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port, make_pdf
from tests.integration.benchmarks.test_benchmark_scripts import run_benchmark

pytestmark = pytest.mark.slow


def test_answer_log_benchmark_prints_the_route_and_direct_write_cost_per_engine(database_url: str) -> None:
    out = run_benchmark("answer_log.py", "--answers", "20", "--database-url", database_url)
    assert "sqlite: 20 answers; in the route (queued): p50" in out and "postgresql: 20 answers" in out


def test_scoped_search_benchmark_prints_scoped_against_unscoped(tmp_path: Path) -> None:
    out = run_benchmark("scoped_search.py", "--chunks", "200", "--queries", "5", "--data-dir", str(tmp_path))
    assert "unscoped  p50" in out and "scoped    p50" in out and "first scoped search" in out


def test_sync_resync_benchmark_reads_no_file_on_a_no_change_resync() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, "-m", "benchmarks.sync_resync", "--files", "5", "--resyncs", "1", "--json"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    # the edited file read once (it was read twice, to parse it and again to keep its original)
    assert '"first_sync_s"' in done.stdout and '"one_edit_one_delete_reads": 1' in done.stdout


def test_ocr_benchmark_prints_pages_per_second_and_ocr_share(tmp_path: Path) -> None:
    pdf = tmp_path / "one-page.pdf"
    pdf.write_bytes(make_pdf(["Annual leave: full-time employees receive 25 days of paid leave a year."]))
    out = run_benchmark("ocr.py", "--pdf", str(pdf), "--dpi", "100")
    assert "one-page.pdf: 1 pages scanned at 100 dpi" in out and "OCR:" in out and "Tesseract CPU:" in out
    assert "the scan took" in out


def test_web_page_benchmark_prints_page_weight_and_time_to_interactive(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\nFull-time employees receive 25 days of paid annual leave.\n")
    out = run_benchmark("web_page.py", "--runs", "1", "--docs", str(docs))
    assert "page weight:" in out and "interactive: median" in out


def test_load_benchmark_prints_a_table_per_phase(tmp_path: Path) -> None:
    # 11 documents: one more than an upload ingests before answering (RAG_SYNC_UPLOAD_FILES), so a job.
    args = ["--duration", "2", "--clients", "2", "--job-documents", "11", "--cancellations", "1"]
    out = run_benchmark("load.py", *args, "--data-dir", str(tmp_path / "data"), "--port", str(free_port()))
    assert "1. " in out and "2. " in out and "3. without queries, beside a 11-document job" in out and "p95" in out


def test_scale_out_benchmark_prints_replica_worker_and_visibility_figures() -> None:
    out = run_benchmark("scale_out.py", "--documents", "10", "--job-documents", "4", "--duration", "2")
    assert "search ratio two/one:" in out and "visibility delay:" in out and "ingestion documents/s:" in out


def test_memory_benchmark_prints_rss_at_each_step_the_ratio_and_the_soak_drift() -> None:
    args = ["--html-mb", "0.03", "--markdown-mb", "0.02", "--searches", "3", "--soak-minutes", "0.1", "--json"]
    out = run_benchmark("memory.py", *args)
    assert "RSS start (warmed)" in out and "RSS after both deleted" in out and "end / start:" in out
    assert "soak minute   0: RSS" in out and "max/min" in out and '"soak_drift"' in out
