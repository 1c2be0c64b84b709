"""Smoke runs of the answer- and retrieval-quality benchmarks on the smallest eval sets (tests/integration/
benchmarks/qa_sets.py): each script still runs against today's code and prints the figures its readers look
for. The figures themselves are not checked: a seven-question set says nothing about quality."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_DOCS
from tests.integration.benchmarks.qa_sets import make_beir_set, make_qa_set
from tests.integration.benchmarks.test_benchmark_scripts import SCIFACT, needs_scifact, run_benchmark

pytestmark = pytest.mark.slow


def ingested(tmp_path: Path, docs: Path, collection: str) -> Path:
    """A data dir holding `docs` as `collection`, ingested by the real CLI; returns the data dir."""
    import subprocess
    import sys

    data_dir = tmp_path / "data"
    env = {**os.environ, "RAG_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, "-m", "cli", "ingest", str(docs), "--collection", collection]
    done = subprocess.run(command, cwd=SAMPLE_DOCS.parent, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return data_dir


def test_answers_benchmark_prints_a_table_row_per_mode_and_scan_compare_reads_its_details(tmp_path: Path) -> None:
    qa = make_qa_set(tmp_path / "qa")
    details = tmp_path / "details"
    out = run_benchmark("answers.py", "--kb-dev", str(qa), "--docs", str(qa / "docs"), "--modes", "extract",
                        "--details-dir", str(details))  # fmt: skip
    row = json.loads(out.splitlines()[0])
    assert row["mode"] == "extract" and "hit@5" in row and "| extract |" in out
    # scan_kb_dev's compare puts two runs' details side by side (here the same run twice).
    extract = str(details / "extract.jsonl")
    out = run_benchmark("scan_kb_dev.py", "compare", extract, extract, "--docs", "faq.md")
    assert "faq.md" in out and "text: 2 questions, hit@1" in out and "scan: 2 questions" in out


def test_scan_kb_dev_benchmark_scans_pdfs_and_prints_the_ocr_error_rate(tmp_path: Path) -> None:
    from tests.conftest import make_pdf

    docs, scanned = tmp_path / "docs", tmp_path / "scanned"
    docs.mkdir()
    (docs / "leave.pdf").write_bytes(make_pdf(["Annual leave: full-time employees receive 25 days a year."]))
    (docs / "notes.md").write_text("# Notes\nCopied as it is.\n")
    out = run_benchmark("scan_kb_dev.py", "make", str(docs), str(scanned))
    assert "leave.pdf: 1 pages" in out and (scanned / "notes.md").read_text() == "# Notes\nCopied as it is.\n"
    out = run_benchmark("scan_kb_dev.py", "cer", str(docs), str(scanned))
    assert "leave.pdf" in out and "all: CER" in out and "pages/s" in out


def test_replay_benchmark_prints_kept_reference_and_wrong_answers(tmp_path: Path) -> None:
    qa = make_qa_set(tmp_path / "qa")
    out = run_benchmark("replay.py", f"tiny={qa}", "--work", str(tmp_path / "work"), "--json")
    rows = json.loads(out[out.index("[\n") :])  # one row per set and mode
    assert {row["set"] for row in rows} == {"tiny"} and {row["mode"] for row in rows} == {"reference", "wrong"}


def test_fit_answerability_benchmark_fits_on_one_set_and_reports_the_other(tmp_path: Path) -> None:
    qa = make_qa_set(tmp_path / "qa")
    out = run_benchmark("fit_answerability.py", f"a={qa}", f"b={qa}", "--work", str(tmp_path / "work"),
                        "--out", str(tmp_path / "fits"))  # fmt: skip
    assert "min_relevance" in out and "a+b" in out
    assert {p.name for p in (tmp_path / "fits").iterdir()} >= {"a.json", "b.json"}


def test_grounding_benchmark_prints_cold_and_warm_latency(tmp_path: Path) -> None:
    env_dir = tmp_path / "empty-data"  # no kb-dev collection: sample_docs/ is ingested by the script
    out = run_benchmark("grounding.py", "--rounds", "1", env={"RAG_DATA_DIR": str(env_dir)})
    assert "cold: p50" in out and "warm: p50" in out and "baseline: one query embedding" in out


def test_grounding_calibration_benchmark_prints_precision_and_recall(tmp_path: Path) -> None:
    qa = make_qa_set(tmp_path / "qa")
    data_dir = ingested(tmp_path, qa / "docs", "kb-dev")
    out = run_benchmark("grounding_calibration.py", "--questions", str(qa / "questions.jsonl"),
                        env={"RAG_DATA_DIR": str(data_dir)})  # fmt: skip
    assert "examples: copy 6, cross 18" in out and "paraphrases: precision" in out and "with_copies:" in out


def test_injection_benchmark_prints_what_the_answers_obeyed() -> None:
    out = run_benchmark("injection.py", "--modes", "extract", "--variants", "plain-en", "--questions", "1", "--json")
    assert '"variant": "plain-en"' in out and '"obeyed"' in out and '"retrieved"' in out


@needs_scifact
def test_scifact_benchmark_prints_ndcg_of_each_config_and_the_variants(tmp_path: Path) -> None:
    beir = make_beir_set(tmp_path / "beir", SCIFACT, queries=6)
    out = run_benchmark("scifact.py", "--scifact", str(beir), "--data-dir", str(tmp_path / "data"), "--variants")
    assert "default nDCG@10" in out and "over rrf" in out and "dense weight 0.6: nDCG@10" in out
