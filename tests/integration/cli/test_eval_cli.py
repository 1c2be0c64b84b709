"""`rag eval` as a user runs it: a real process on the small BEIR set in tests/data/minibeir."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.integration.cli.test_cli import rag

MINIBEIR = Path(__file__).resolve().parents[2] / "data" / "minibeir"


def test_eval_scores_every_configuration_then_reuses_the_collection(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = rag(["eval", str(MINIBEIR), "--json"], data)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert set(report) == {"dataset", "split", "queries", "ingest_seconds", "results"}
    assert (report["dataset"], report["split"], report["queries"]) == ("minibeir", "test", 40)
    assert report["ingest_seconds"] > 0
    assert [r["config"] for r in report["results"]] == ["dense", "keyword", "rrf", "default"]
    for result in report["results"]:
        assert set(result) == {"config", "ndcg@10", "recall@10", "recall@100", "mrr@10", "queries_per_s"}
        assert 0.5 < result["ndcg@10"] <= 1 and result["queries_per_s"] > 0
    collections = json.loads(rag(["collections", "list", "--json"], data).stdout)
    assert [(c["name"], c["documents"]) for c in collections] == [("beir-minibeir", 60)]

    again = rag(["eval", str(MINIBEIR), "--config", "keyword", "--config", "rrf", "--config", "hybrid+rm3"], data)
    assert again.returncode == 0, again.stderr
    assert "reusing collection 'beir-minibeir'" in again.stderr and "ingesting" not in again.stderr
    assert "nDCG@10" in again.stdout and "keyword" in again.stdout and "dense" not in again.stdout
    assert "hybrid+rm3" in again.stdout


def write_beir(root: Path, qrels: str | None = "query-id\tcorpus-id\tscore\nq1\td1\t1\n") -> Path:
    root.mkdir(parents=True)
    (root / "corpus.jsonl").write_text('{"_id": "d1", "title": "Kayaks", "text": "Kayaks float."}\n')
    (root / "queries.jsonl").write_text('{"_id": "q1", "text": "Do kayaks float?"}\n')
    if qrels is not None:
        (root / "qrels").mkdir()
        (root / "qrels" / "test.tsv").write_text(qrels)
    return root


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        (None, "missing file"),
        ("q1\td1\t1\n", "header"),
        ("query-id\tcorpus-id\tscore\nq9\td1\t1\n", "q9"),
        ("query-id\tcorpus-id\tscore\n", "no relevance judgements"),
    ],
    ids=["missing-qrels", "no-header", "unknown-query", "empty-split"],
)
def test_bad_dataset_exits_2_with_a_message_and_ingests_nothing(
    tmp_path: Path, qrels: str | None, message: str
) -> None:
    dataset = write_beir(tmp_path / "broken", qrels)
    result = rag(["eval", str(dataset)], tmp_path / "data")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "data").exists()  # validated before anything was built or ingested


def test_missing_corpus_and_unknown_config_exit_2(tmp_path: Path) -> None:
    dataset = write_beir(tmp_path / "nocorpus")
    (dataset / "corpus.jsonl").unlink()
    missing = rag(["eval", str(dataset)], tmp_path / "data")
    assert missing.returncode == 2 and "corpus.jsonl" in missing.stderr
    shutil.rmtree(dataset)
    unknown = rag(["eval", str(write_beir(dataset)), "--config", "cross-encoder"], tmp_path / "data")
    assert unknown.returncode == 2 and "RAG_RERANKER_MODEL" in unknown.stderr
    step = rag(["eval", str(dataset), "--config", "hybrid+telepathy"], tmp_path / "data")
    assert step.returncode == 2 and "unknown search step 'telepathy'" in step.stderr
    assert not (tmp_path / "data").exists()


MINIQA = Path(__file__).resolve().parents[2] / "data" / "miniqa"


def test_eval_answers_a_qa_set_and_scores_citations_abstention_and_correctness(tmp_path: Path) -> None:
    """Answer mode on the local defaults: every figure the README's table shows, and per-question details."""
    details = tmp_path / "details.jsonl"
    result = rag(["eval", str(MINIQA), "--json", "--details", str(details)], tmp_path / "data")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["questions"], report["answerable"], report["unanswerable"]) == (10, 7, 3)
    assert report["hit@5"] == 1.0 and report["hit@1"] >= 0.8
    assert report["abstention"] >= 2 / 3 and report["false_abstention"] <= round(1 / 7, 4)
    assert report["citation_precision"] >= 0.85 and report["citation_coverage"] >= 0.8
    assert report["numbers_ok"] >= 0.6 and report["f1"] > 0.3 and report["supported_sentences"] >= 0.8
    assert 0 < report["ttft_p50_s"] <= report["total_p95_s"]
    rows = [json.loads(line) for line in details.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"qa-{i:02d}" for i in range(1, 11)]
    distance = next(r for r in rows if r["id"] == "qa-07")  # a PDF answer: cited with its page
    assert distance["verdicts"]["citations"][0] == ["heat_pump_guide.pdf", 1] and "50" in distance["answer"]
    assert all(r["abstained"] for r in rows if r["id"] in ("qa-08", "qa-10"))


def test_eval_of_a_qa_set_without_its_documents_exits_2(tmp_path: Path) -> None:
    result = rag(["eval", str(MINIQA), "--docs", str(tmp_path)], tmp_path / "data")
    assert result.returncode == 2 and "lacks the set's documents" in result.stderr


HANDBOOKQA = Path(__file__).resolve().parents[2] / "data" / "handbookqa"


def test_eval_of_a_handbook_in_folders_answers_paraphrases_refuses_near_misses_and_quotes_clean_text(
    tmp_path: Path,
) -> None:
    """tests/data/handbookqa: pages in nested folders (two named index.md), Markdown links and template tags,
    a PDF with a running header and page numbers, questions in employees' words, near misses, a task."""
    details = tmp_path / "details.jsonl"
    docs = HANDBOOKQA / "docs"
    result = rag(["eval", str(HANDBOOKQA), "--docs", str(docs), "--json", "--details", str(details)], tmp_path / "d")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["questions"] == 11 and report["hit@5"] == 1.0  # gold matched by the path below docs/
    rows = {r["id"]: r for r in map(json.loads, details.read_text().splitlines())}
    for row in rows.values():
        for markup in ("](", "{%", "**", "|", "#", "Acme Security Guide - Version"):
            assert markup not in row["answer"], (row["id"], row["answer"])
    door = rows["hq-05"]  # "a door held open late in the evening. Who should I phone?": in other words, on page 2
    assert not door["abstained"] and door["verdicts"]["citations"] == [["security/guide.pdf", 2]]
    assert "call the night guard on 555-0199" in door["answer"]
    assert all(rows[i]["abstained"] for i in ("hq-08", "hq-09", "hq-10"))  # near misses and the unmentioned
    summary = rows["hq-11"]  # "Summarize the security guide"
    assert not summary["abstained"] and {c[0] for c in summary["verdicts"]["citations"]} == {"security/guide.pdf"}
    assert report["evidence_answers"] >= 0.5 and report["median_answer_words"] <= 45


def test_eval_of_a_qa_set_with_configs_scores_search_only_per_configuration(tmp_path: Path) -> None:
    """`--config` on a QA set: which page comes first for each configuration, no answers asked."""
    every_step = "hybrid+rm3+vector-prf+page-evidence+heading-match+late-interaction+dedupe"
    docs = ["--docs", str(HANDBOOKQA / "docs")]
    command = [
        "eval",
        str(HANDBOOKQA),
        *docs,
        "--json",
        "--config",
        "rrf",
        "--config",
        "hybrid",
        "--config",
        every_step,
    ]
    result = rag(command, tmp_path / "data")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [r["config"] for r in report["results"]] == ["rrf", "hybrid", every_step]
    for row in report["results"]:
        assert row["questions"] > 5 and row["hit@5"] >= 0.8 and row["hit@1"] <= row["mrr@5"] <= row["hit@5"]
        assert 0 < row["ms_p50"] <= row["ms_p95"]
        assert all(miss["rank"] != 1 for miss in row["misses"])
    table = rag(["eval", str(HANDBOOKQA), *docs, "--config", "default"], tmp_path / "data")
    assert table.returncode == 0 and "hit@1" in table.stdout and "MRR@5" in table.stdout


TABLEQA = Path(__file__).resolve().parents[2] / "data" / "tableqa"


def test_eval_of_tables_quotes_the_row_that_answers_with_its_column_names(tmp_path: Path) -> None:
    """tests/data/tableqa: one table each in a PDF, Word, HTML, Excel and CSV; a row answers, read with its
    column names and scored with the line above its table ("Dishwasher ... error codes"), a service the price
    list lacks is refused."""
    details = tmp_path / "details.jsonl"
    result = rag(["eval", str(TABLEQA), "--docs", str(TABLEQA / "docs"), "--json", "--details", str(details)],
                 tmp_path / "d")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["hit@5"] == 1.0 and report["abstention"] == 1.0 and report["citation_precision"] == 1.0
    rows = {r["id"]: r for r in map(json.loads, details.read_text().splitlines())}
    assert rows["tq-05"]["answer"].startswith("Code: F2; Meaning: Water not draining;")  # not the page's title
    assert rows["tq-03"]["answer"].startswith("Day: Friday; Opens: 10:00; Closes: 16:00")
    assert report["evidence_answers"] >= 0.75 and "|" not in " ".join(r["answer"] for r in rows.values())
