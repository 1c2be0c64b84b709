"""Benchmarks that cannot rot unseen: each script runs at a tiny size and must print its figures.

The figures themselves are not checked (no timing assertions: machines swing 5x); only that the script
still runs against today's code and prints the lines its readers look for. The scripts that need a QA set
or a BEIR folder are in test_quality_benchmark_scripts.py (on the smallest sets, made in tmp_path), those
that start servers, a browser, PostgreSQL or Tesseract in test_service_benchmark_scripts.py. pathological.py
runs its .docx group only (its other inputs are 10-200 MB by design).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_DOCS, free_port

pytestmark = pytest.mark.slow

SCIFACT = ROOT.parent / "shared" / "eval" / "scifact"
needs_scifact = pytest.mark.skipif(
    not (SCIFACT / "corpus.jsonl").is_file(), reason="SciFact is read from ../shared/eval/scifact"
)


def run_benchmark(script: str, *args: str, timeout: float = 1800, env: dict[str, str] | None = None) -> str:
    """Run benchmarks/<script> as a user would, from the repo root with this checkout's code; its stdout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env or {})}
    done = subprocess.run([sys.executable, f"benchmarks/{script}", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)  # fmt: skip
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@needs_scifact
def test_ingest_benchmark_prints_our_rate_against_the_raw_encoder() -> None:
    out = run_benchmark("ingest.py", "--docs", "5", "--no-peer", "--raw-batches", "8,32")
    assert "ours (onnx, batch" in out and "ours (pytorch, batch" in out and "raw encode (batch 32)" in out
    assert "/ fastest raw encode" in out


@needs_scifact
def test_encoders_benchmark_prints_speed_and_agreement_of_each_encoder() -> None:
    out = run_benchmark("encoders.py", "--docs", "12", "--queries", "3", "--batch-size", "4")
    assert "pytorch (sentence-transformers)" in out and "onnx fp32 (ours)" in out and "nDCG@10" in out


def test_search_benchmark_prints_latency_throughput_and_first_token(tmp_path: Path) -> None:
    out = run_benchmark(
        "search.py", "--chunks", "300", "--requests", "8", "--data-dir", str(tmp_path), "--port", str(free_port())
    )
    assert "1 client(s): p50" in out and "8 client(s): p50" in out and "req/s" in out
    assert "time to first token" in out


def test_million_benchmark_prints_build_start_rss_and_latency(tmp_path: Path) -> None:
    args = ["--chunks", "300", "--starts", "1", "--data-dir", str(tmp_path)]
    out = run_benchmark("million.py", *args, "--keyword-only")
    assert "build (or reuse)" in out and "keyword index loaded in" in out and "RSS" in out
    out = run_benchmark("million.py", *args, "--requests", "5", "--port", str(free_port()))
    assert "ready (first search)" in out and "RSS" in out and "p95" in out and "targets at 1M" in out


def test_bundles_benchmark_prints_export_and_import_against_ingestion_and_leaves_the_collection_alone(
    tmp_path: Path,
) -> None:
    built = tmp_path / "built"
    out = run_benchmark("bundles.py", "--build", "200", "--build-dir", str(built), "--sample-chunks", "10")
    assert "ingestion baseline:" in out and "chunks/s" in out
    assert "of ingestion, peak RSS" in out and "archive" in out and "export and import each <=" in out
    # A collection given by its data dir is copied first: its files stay as they were.
    source = built / "c200"
    before = {p: p.read_bytes() for p in source.glob("*.sqlite")}
    args = ["--data-dir", str(source), "--collection", "bench-100k", "--sample-chunks", "10", "--json"]
    figures = json.loads(run_benchmark("bundles.py", *args).strip().splitlines()[-1])
    assert figures["collections"][0]["chunks"] == 200 and figures["collections"][0]["import_peak_rss_mb"] > 0
    assert {p: p.read_bytes() for p in source.glob("*.sqlite")} == before


def test_quoting_benchmark_prints_its_figures() -> None:
    assert '"figure"' in run_benchmark("quoting.py")


def test_clean_text_benchmark_prints_a_line_per_folder_and_pdf() -> None:
    out = run_benchmark("clean_text.py", str(SAMPLE_DOCS))
    assert '"markdown"' in out and '"pdf"' in out


def test_cli_startup_benchmark_prints_each_commands_time() -> None:
    out = run_benchmark("cli_startup.py", "1")
    assert "rag --help" in out and "wall" in out


def test_pathological_benchmark_prints_how_each_docx_bomb_was_refused() -> None:
    out = run_benchmark("pathological.py", "--only", "docx")
    assert "210,000 paragraphs" in out and "120 MB of XML" in out and "peak RSS" in out


def test_server_rss_benchmark_prints_where_the_memory_goes() -> None:
    out = run_benchmark("server_rss.py")
    assert "rag serve RSS after start" in out and "where it goes" in out


def test_sync_watch_latency_benchmark_prints_the_p95_of_save_to_searchable() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, "-m", "benchmarks.sync_watch_latency", "--files", "3", "--edits", "2"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    assert '"p95_s"' in done.stdout and '"latencies_s"' in done.stdout
