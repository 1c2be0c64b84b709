"""`rag eval`: score a BEIR folder (retrieval) or a QA set (answers); the runs live in rag/evaluation/run.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.common import JsonOption, check_collection, claim_data_dir, console, err_console, fail, read_registry
from rag.config import get_settings
from rag.errors import RagError

if TYPE_CHECKING:
    from ingest.pipeline import FileResult, IngestPipeline
    from rag.evaluation.run import IngestFailure, RetrievalReport
    from rag.retrieval.components import Components


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)


def evaluate(
    dataset_dir: Annotated[
        Path | None, typer.Argument(help="A BEIR-format folder: corpus.jsonl, queries.jsonl, qrels/; or a QA set.")
    ] = None,
    split: Annotated[str, typer.Option(help="Which qrels/<split>.tsv to score.")] = "test",
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="Collection to ingest into (default beir-<folder>).")
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=10, help="Documents retrieved per query.")] = 100,
    configs: Annotated[
        list[str] | None,
        typer.Option(
            "--config",
            help="dense, keyword, rrf, hybrid, default, cross-encoder, then any +steps (hybrid+vector-prf);"
            " repeatable. On a QA set: search only, page hit@1/hit@5/MRR@5 per configuration.",
        ),
    ] = None,
    docs: Annotated[
        Path | None, typer.Option("--docs", help="QA sets: the folder of the documents (default: the set's folder).")
    ] = None,
    details: Annotated[
        Path | None, typer.Option("--details", help="QA sets: write every question's answer and verdicts here.")
    ] = None,
    from_feedback: Annotated[
        str | None,
        typer.Option("--from-feedback", help="Write a QA set from this collection's rated answers (needs --out)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="--from-feedback: the folder to write the set to.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Score a dataset. BEIR folders: retrieval (nDCG@10, Recall@10/100, MRR@10 per configuration).
    QA sets (questions.jsonl, as shared/eval/kb-dev): answers, through the same path as /v1/query; with
    --config, search only (which page comes first, per configuration).
    With --from-feedback COLLECTION --out DIR: write a QA set from users' feedback instead, to score later
    with `rag eval DIR --docs DIR/documents`."""
    from rag.evaluation import run

    if from_feedback is not None:
        _write_feedback_set(from_feedback, out, as_json)
        return
    if dataset_dir is None:
        raise fail("name a dataset folder, or use --from-feedback COLLECTION --out DIR", 2)
    settings = get_settings()
    display = RichDisplay(quiet=as_json)
    qa_set = (dataset_dir / "questions.jsonl").is_file()
    try:  # everything is checked before anything is ingested
        if qa_set and configs:
            answer_plan = run.plan_search(dataset_dir, docs or dataset_dir, collection, configs, settings)
        elif qa_set:
            answer_plan = run.plan_answers(dataset_dir, docs or dataset_dir, collection, details)
        else:
            retrieval_plan = run.plan_retrieval(dataset_dir, split, collection, configs, top_k, settings)
    except RagError as exc:
        raise fail(exc.message, 2) from exc
    _own_for_eval()
    try:
        if qa_set and configs:
            _print_search(run.run_search(answer_plan, configs, settings, PipelineIngestor.open, display), as_json)
        elif qa_set:
            _print_answers(run.run_answers(answer_plan, settings, PipelineIngestor.open, display), as_json)
        else:
            _print_retrieval(run.run_retrieval(retrieval_plan, settings, PipelineIngestor.open, display), as_json)
    except run.CorpusMismatch as exc:
        raise fail(exc.message, 2) from exc
    except RagError as exc:
        raise fail(exc.message) from exc


def _write_feedback_set(collection: str, out: Path | None, as_json: bool) -> None:
    from rag.evaluation.from_feedback import DOCUMENTS, write_feedback_set
    from rag.storage.answers import open_answer_log
    from rag.storage.originals import OriginalStore

    if out is None:
        raise fail("--from-feedback needs --out DIR: where to write the QA set", 2)
    settings = get_settings()
    check_collection(collection)
    try:
        found = write_feedback_set(
            open_answer_log(settings), read_registry(), OriginalStore(settings.originals_path), collection, "", out
        )
    except RagError as exc:
        raise fail(exc.message) from exc
    summary = {"questions": len(found.items), "documents": found.documents, "skipped": dict(found.skipped),
               "out": str(out)}  # fmt: skip
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    skipped = ", ".join(f"{n} {why}" for why, n in found.skipped.items())
    console.print(f"{len(found.items)} questions and {found.documents} documents written to {out}"
                  + (f" (skipped: {skipped})" if skipped else ""), highlight=False)  # fmt: skip
    console.print(f"score them: rag eval {out} --docs {out / DOCUMENTS}", highlight=False)


def _own_for_eval() -> None:
    """Evaluation ingests and searches in this process: it needs the data directory to itself."""
    remote = claim_data_dir("rag eval")
    if remote is not None:
        raise fail(f"the server at {remote.url} owns {get_settings().data_dir}: stop it, or evaluate with"
                   " another RAG_DATA_DIR", 2)  # fmt: skip


def _print_retrieval(report: RetrievalReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
        return
    table = Table(
        "config", "nDCG@10", "Recall@10", "Recall@100", "MRR@10", "queries/s",
        title=f"{report.dataset} ({report.split}): {report.queries} queries, {report.documents} documents",
    )  # fmt: skip
    for r in report.results:
        table.add_row(r.config, *(f"{r.scores[m]:.4f}" for m in ("ndcg@10", "recall@10", "recall@100", "mrr@10")),
                      f"{r.queries_per_s:.1f}")  # fmt: skip
    console.print(table)
    console.print(f"ingestion: {report.ingest_seconds:.1f} s" + (" (collection reused)" if report.reused else ""))


def _print_search(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    results = summary["results"]
    questions = results[0]["questions"] if results else 0
    title = f"{summary['dataset']}: {questions} answerable questions, pages of the first 5 results"
    table = Table("config", "hit@1", "hit@5", "MRR@5", "ms p50", "ms p95", title=title)
    for r in results:
        table.add_row(r["config"], f"{r['hit@1']:.3f}", f"{r['hit@5']:.3f}", f"{r['mrr@5']:.3f}", f"{r['ms_p50']:.1f}",
                      f"{r['ms_p95']:.1f}")  # fmt: skip
    console.print(table)


def _print_answers(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    table = Table("metric", "value", title=f"{summary['dataset']}: {summary['questions']} questions")
    for key, value in summary.items():
        if key not in ("dataset", "collection"):
            table.add_row(key, "-" if value is None else str(value))
    console.print(table)


class RichDisplay:
    """Progress on stderr (rag.evaluation.run.Display); bars stay off with --json, the rest goes to stderr."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    @contextmanager
    def steps(self, label: str, total: int) -> Iterator[Callable[[], None]]:
        with Progress(
            TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err_console, disable=self.quiet,
        ) as progress:  # fmt: skip
            task = progress.add_task(label, total=total)
            yield lambda: progress.update(task, advance=1)

    def status(self, message: str) -> AbstractContextManager[object]:
        return err_console.status(message)

    def note(self, message: str) -> None:
        err_console.print(message)


class PipelineIngestor:
    """Evaluation's ingestion (rag.evaluation.run.Ingestor) on this process's pipeline."""

    def __init__(self, pipeline: IngestPipeline) -> None:
        self.pipeline = pipeline

    @classmethod
    def open(cls, components: Components) -> PipelineIngestor:
        from ingest.service import build_pipeline

        return cls(build_pipeline(components))

    def stored_sha256(self, collection: str) -> dict[str, str]:
        return {r.document_id: r.sha256 for r in self.pipeline.registry.documents(collection)}

    def ingest_texts(
        self, collection: str, texts: Mapping[str, str], advance: Callable[[], None]
    ) -> list[IngestFailure]:
        from ingest.pipeline import Source

        sources = [
            Source.from_bytes(f"{doc_id}.txt", text.encode(), document_id=doc_id, kind="corpus.txt")
            for doc_id, text in texts.items()
        ]
        return _failures(self.pipeline.ingest(sources, collection, progress=lambda _: advance()))

    def ingest_folder(self, collection: str, folder: Path) -> list[IngestFailure]:
        from cli.library import collect_sources

        return _failures(self.pipeline.ingest(collect_sources([folder], recursive=True), collection))


def _failures(results: list[FileResult]) -> list[IngestFailure]:
    from rag.evaluation.run import IngestFailure

    return [IngestFailure(r.document_id, r.filename, r.reason) for r in results if r.status == "failed"]
