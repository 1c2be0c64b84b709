"""The `rag` command line: thin commands over the same services as the HTTP API."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from fnmatch import fnmatch
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ingest.loaders import is_supported
from ingest.pipeline import FileResult, IngestPipeline, Source
from ingest.service import build_pipeline
from rag.components import build_components
from rag.config import get_settings
from rag.errors import RagError

app = typer.Typer(help="RAG question answering over your documents.", no_args_is_help=True)
docs_app = typer.Typer(help="Documents of a collection.", no_args_is_help=True)
collections_app = typer.Typer(help="Collections.", no_args_is_help=True)
app.add_typer(docs_app, name="docs")
app.add_typer(collections_app, name="collections")

console = Console()
err_console = Console(stderr=True)

CollectionOption = Annotated[str, typer.Option("--collection", "-c", help="Collection name.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _pipeline() -> IngestPipeline:
    return build_pipeline(build_components(get_settings()))


def _fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def collect_sources(paths: list[Path], recursive: bool) -> list[Source]:
    """Files named explicitly are always tried; inside folders only supported types are taken.

    Inside a folder the document id is the path relative to it, so equal names in subfolders stay apart.
    A `.ragignore` file in a folder lists glob patterns (relative paths) to leave out.
    """
    sources: list[Source] = []
    for path in paths:
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            ignore_file = path / ".ragignore"
            ignored = ignore_file.read_text().split() if ignore_file.is_file() else []
            for file in sorted(p for p in path.glob(pattern) if p.is_file() and not p.name.startswith(".")):
                relative = file.relative_to(path).as_posix()
                if is_supported(file) and not any(fnmatch(relative, pat) for pat in ignored):
                    sources.append(Source.from_path(file, document_id=relative))
        elif path.is_file():
            sources.append(Source.from_path(path))
        else:
            raise _fail(f"no such file or directory: {path}", 2)
    return sources


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    collection: CollectionOption = "default",
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Descend into sub-folders.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Ingest files into a collection; unchanged files are skipped, changed ones replaced."""
    sources = collect_sources(paths, recursive)
    if not sources:
        raise _fail("no supported files found", 2)
    try:
        pipeline = _pipeline()
        with Progress(
            TextColumn("[bold]ingesting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[last]}"), console=err_console, disable=as_json,
        ) as progress:  # fmt: skip
            task = progress.add_task("ingest", total=len(sources), last="")

            def advance(result: FileResult) -> None:
                progress.update(task, advance=1, last=f"{result.filename}: {result.status}")

            results = pipeline.ingest(sources, collection, progress=advance)
    except RagError as exc:
        raise _fail(exc.message) from exc
    if as_json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        _print_summary(results)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


def _print_summary(results: list[FileResult]) -> None:
    counts = {s: sum(r.status == s for r in results) for s in ("ingested", "unchanged", "failed")}
    chunks = sum(r.chunks for r in results if r.status == "ingested")
    console.print(
        f"[green]{counts['ingested']} ingested[/green] ({chunks} chunks), "
        f"{counts['unchanged']} unchanged, [red]{counts['failed']} failed[/red]"
    )
    for r in results:
        if r.status == "failed":
            console.print(f"  [red]✗[/red] {r.filename}: {r.reason}")


@docs_app.command("list")
def docs_list(collection: CollectionOption, as_json: JsonOption = False) -> None:
    """List the documents of a collection."""
    records = _pipeline().registry.documents(collection)
    if as_json:
        print(json.dumps([r.public() for r in records], indent=2))
        return
    table = Table("document_id", "filename", "pages", "chunks", "size", "updated_at")
    for r in records:
        table.add_row(r.document_id, r.filename, str(r.pages or ""), str(r.chunk_count), f"{r.size:,}", r.updated_at)
    console.print(table)


@docs_app.command("delete")
def docs_delete(document_id: str, collection: CollectionOption) -> None:
    """Delete a document: its chunks, keyword entries and registry row."""
    try:
        _pipeline().delete_document(collection, document_id)
    except RagError as exc:
        raise _fail(exc.message) from exc
    console.print(f"deleted {document_id} from {collection}")


@collections_app.command("list")
def collections_list(as_json: JsonOption = False) -> None:
    """List collections with their document and chunk counts."""
    records = _pipeline().registry.collections()
    if as_json:
        print(json.dumps([asdict(r) for r in records], indent=2))
        return
    table = Table("name", "documents", "chunks", "created_at")
    for r in records:
        table.add_row(r.name, str(r.documents), str(r.chunks), r.created_at)
    console.print(table)


@collections_app.command("delete")
def collections_delete(name: str) -> None:
    """Delete a collection with all its documents."""
    try:
        _pipeline().delete_collection(name)
    except RagError as exc:
        raise _fail(exc.message) from exc
    console.print(f"deleted collection {name}")


def _answering() -> tuple[Any, Any]:
    """The answer and chat services, in-process: no server needed."""
    from rag.answer import build_answer_service
    from rag.chat import ChatService

    settings = get_settings()
    answers = build_answer_service(settings, build_components(settings))
    return answers, ChatService(answers)


async def _stream_reply(answers: Any, prepared: Any) -> str:
    """Print the answer as it streams, then the checked answer's sources; returns the final text."""
    from rag.answer import Finished

    final, streamed = None, []
    async for item in answers.stream(prepared, _sampling(get_settings().max_tokens)):
        if isinstance(item, Finished):
            final = item.answer
        else:
            streamed.append(item.text)
            console.print(item.text, end="", markup=False, highlight=False)
    console.print()
    if final is None:
        return ""
    if final.answer.strip() != "".join(streamed).strip():  # markers repaired, or the text replaced
        console.print(f"[bold]checked answer:[/bold] {final.answer}", markup=True, highlight=False)
    report = final.grounding
    if final.abstained:
        console.print(f"[dim](abstained: {final.abstain_reason})[/dim]")
    elif report is not None and report.unsupported:
        console.print(f"[yellow]{len(report.unsupported)} sentence(s) not supported by the sources[/yellow]")
    cited = {c.n for c in report.citations} if report is not None and not final.abstained else set()
    for n, hit in enumerate(final.sources or final.related, start=1):
        where = f", page {hit.page}" if hit.page is not None else ""
        mark = "" if final.abstained or n in cited else " (not cited)"
        console.print(f"  [dim][{n}] {hit.filename}{where} (score {hit.score:.3f}){mark}[/dim]")
    return final.answer


@app.command()
def ask(question: str, collection: CollectionOption = "sample") -> None:
    """Ask one question: the answer streams, then its sources are listed."""
    import asyncio

    from rag.answer import RetrievalOptions

    async def run() -> None:
        answers, _ = _answering()
        check_collection(collection)
        prepared = await answers.prepare(question, collection, RetrievalOptions(), get_settings().max_tokens)
        await _stream_reply(answers, prepared)

    try:
        asyncio.run(run())
    except RagError as exc:
        raise _fail(exc.message) from exc


@app.command()
def chat(collection: CollectionOption = "sample") -> None:
    """Talk with your documents: multi-turn, streaming; an empty line or Ctrl-D ends it."""
    import asyncio

    from rag.answer import RetrievalOptions
    from rag.backends import Message

    async def run() -> None:
        # One event loop for the whole conversation: the backend's HTTP client belongs to it.
        answers, chat_service = _answering()
        check_collection(collection)
        history: list[Message] = []
        while True:
            try:
                question = (await asyncio.to_thread(console.input, "[bold]you>[/bold] ")).strip()
            except EOFError:
                return
            if not question:
                return
            history.append(Message("user", question))
            try:
                max_tokens = get_settings().max_tokens
                prepared = await chat_service.prepare(history, collection, RetrievalOptions(), max_tokens)
                reply = await _stream_reply(answers, prepared.grounded())
            except RagError as exc:
                err_console.print(f"[red]error:[/red] {exc.message}")
                history.pop()
                continue
            history.append(Message("assistant", reply))

    asyncio.run(run())


@app.command()
def summarize(
    file: Annotated[Path | None, typer.Argument(help="A file to summarize without ingesting it.")] = None,
    document_id: Annotated[str | None, typer.Option("--document-id", help="A stored document instead.")] = None,
    collection: CollectionOption = "sample",
    instruction: Annotated[str | None, typer.Option("--instruction", "-i", help="e.g. '3 bullet points'")] = None,
) -> None:
    """Summarize a file or a stored document of any length, streaming the summary."""
    import asyncio

    from ingest.loaders import load_bytes
    from rag.backends import SamplingParams, build_backend
    from rag.summarize import Summarizer, Unit, document_units

    settings = get_settings()
    if (file is None) == (document_id is None):
        raise _fail("give a FILE or --document-id (with --collection), not both", 2)
    try:
        if file is not None:
            if not file.is_file():
                raise _fail(f"no such file: {file}", 2)
            loaded = load_bytes(file.name, file.read_bytes(), settings.max_file_bytes)
            units = [Unit(p.text, file.name, file.name, p.number) for p in loaded.pages if p.text.strip()]
        else:
            pipeline = _pipeline()
            record = pipeline.registry.get(collection, document_id or "")
            if record is None:
                raise _fail(f"document {document_id!r} not found in collection {collection!r}")
            units = document_units(pipeline.keyword.document_chunks(collection, record.document_id))

        async def run() -> None:
            summarizer = Summarizer(build_backend(settings))
            params = SamplingParams(max_tokens=settings.max_tokens)
            with err_console.status("reading..."):
                plan = await summarizer.plan(units, instruction, params)
            async for delta in summarizer.stream(plan, params):
                console.print(delta.text, end="", markup=False, highlight=False)
            console.print()
            err_console.print(f"[dim]{plan.model_calls + 1} model call(s)[/dim]")

        asyncio.run(run())
    except RagError as exc:
        raise _fail(exc.message) from exc


def _corpus_to_ingest(pipeline: IngestPipeline, collection: str, corpus: dict[str, dict[str, str]]) -> list[str]:
    """Corpus ids whose document is missing or differs in `collection`; refuses a collection with strangers."""
    from rag.evaluation import document_sha256

    stored = {r.document_id: r.sha256 for r in pipeline.registry.documents(collection)}
    strangers = set(stored) - set(corpus)
    if strangers:
        raise _fail(
            f"collection {collection!r} holds {len(strangers)} document(s) that are not in the corpus,"
            f" e.g. {sorted(strangers)[0]!r}; pick another --collection",
            2,
        )
    return [doc_id for doc_id, entry in corpus.items() if stored.get(doc_id) != document_sha256(entry)]


def _ingest_corpus(pipeline: IngestPipeline, collection: str, corpus: dict[str, dict[str, str]], quiet: bool) -> None:
    from rag.evaluation import document_text

    sources = [
        Source.from_bytes(f"{doc_id}.txt", document_text(entry).encode(), document_id=doc_id, kind="corpus.txt")
        for doc_id, entry in corpus.items()
    ]
    with Progress(
        TextColumn("[bold]ingesting corpus"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err_console, disable=quiet,
    ) as progress:  # fmt: skip
        task = progress.add_task("ingest", total=len(sources))
        results = pipeline.ingest(sources, collection, progress=lambda _: progress.update(task, advance=1))
    failed = [r for r in results if r.status == "failed"]
    if failed:
        first = failed[0]
        raise _fail(f"{len(failed)} corpus document(s) failed to ingest, e.g. {first.document_id}: {first.reason}")


@app.command("eval")
def evaluate_retrieval(
    dataset_dir: Annotated[Path, typer.Argument(help="A BEIR-format folder: corpus.jsonl, queries.jsonl, qrels/.")],
    split: Annotated[str, typer.Option(help="Which qrels/<split>.tsv to score.")] = "test",
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="Collection to ingest into (default beir-<folder>).")
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=10, help="Documents retrieved per query.")] = 100,
    configs: Annotated[
        list[str] | None, typer.Option("--config", help="dense, keyword, rrf, default, cross-encoder; repeatable.")
    ] = None,
    docs: Annotated[
        Path | None, typer.Option("--docs", help="QA sets: the folder of the documents (default: the set's folder).")
    ] = None,
    details: Annotated[
        Path | None, typer.Option("--details", help="QA sets: write every question's answer and verdicts here.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Score a dataset. BEIR folders: retrieval (nDCG@10, Recall@10/100, MRR@10 per configuration).
    QA sets (questions.jsonl, as shared/eval/kb-dev): answers, through the same path as /v1/query."""
    if (dataset_dir / "questions.jsonl").is_file():
        _evaluate_answers(dataset_dir, docs or dataset_dir, collection, details, as_json)
        return
    import time

    from rag.evaluation import available_configs, default_collection_name, evaluate, load_beir
    from rag.models import check_collection_name
    from rag.rerank import CrossEncoderReranker, build_reranker
    from rag.retrieval import Retriever

    settings = get_settings()
    available = available_configs(settings.reranker_model)
    chosen = list(dict.fromkeys(configs or available))
    unknown = [c for c in chosen if c not in available]
    if unknown:
        hint = " (cross-encoder needs RAG_RERANKER_MODEL)" if "cross-encoder" in unknown else ""
        raise _fail(f"unknown configuration {unknown[0]!r}: choose from {', '.join(available)}{hint}", 2)
    name = collection or default_collection_name(dataset_dir)
    try:
        check_collection_name(name)
        data = load_beir(dataset_dir, split)  # everything is checked before anything is ingested
    except RagError as exc:
        raise _fail(exc.message, 2) from exc

    components = build_components(settings)
    pipeline = build_pipeline(components)
    started = time.perf_counter()
    missing = _corpus_to_ingest(pipeline, name, data.corpus)
    if missing:
        _ingest_corpus(pipeline, name, {doc_id: data.corpus[doc_id] for doc_id in missing}, as_json)
        ingest_seconds = time.perf_counter() - started
    else:
        ingest_seconds = 0.0
        err_console.print(f"reusing collection {name!r}: it already holds this corpus ({len(data.corpus)} documents)")

    import torch

    # Queries run one at a time, as in `rag serve`: its thread count keeps single-query latency low (with
    # more threads than free cores, a one-line query can spin for a second while another process runs).
    torch.set_num_threads(settings.serve_torch_threads)
    retriever = Retriever(components, build_reranker(settings.reranker_model))
    results = []
    for config in chosen:
        with err_console.status(f"evaluating {config} on {len(data.queries)} queries..."):
            if config == "cross-encoder":
                reranked = Retriever(components, CrossEncoderReranker(settings.reranker_model or ""))
                results.append(evaluate(reranked, name, data, config, top_k))
            else:
                results.append(evaluate(retriever, name, data, config, top_k))
    report = {
        "dataset": dataset_dir.resolve().name,
        "split": split,
        "queries": len(data.queries),
        "ingest_seconds": round(ingest_seconds, 2),
        "results": [r.as_dict() for r in results],
    }
    if as_json:
        print(json.dumps(report, indent=2))
        return
    table = Table(
        "config", "nDCG@10", "Recall@10", "Recall@100", "MRR@10", "queries/s",
        title=f"{report['dataset']} ({split}): {len(data.queries)} queries, {len(data.corpus)} documents",
    )  # fmt: skip
    for r in results:
        table.add_row(r.config, *(f"{r.scores[m]:.4f}" for m in ("ndcg@10", "recall@10", "recall@100", "mrr@10")),
                      f"{r.queries_per_s:.1f}")  # fmt: skip
    console.print(table)
    console.print(f"ingestion: {ingest_seconds:.1f} s" + (" (collection reused)" if not missing else ""))


def _evaluate_answers(
    dataset_dir: Path, docs_dir: Path, collection: str | None, details: Path | None, as_json: bool
) -> None:
    """Ingest the QA set's documents, ask every question through the answer service, print the scores."""
    import asyncio

    from rag.answer_eval import ask, gold_files, load_qa_set, score_record, summarize, write_details
    from rag.evaluation import default_collection_name
    from rag.models import check_collection_name

    settings = get_settings()
    name = collection or default_collection_name(dataset_dir).replace("beir-", "qa-", 1)
    try:
        check_collection_name(name)
        items = load_qa_set(dataset_dir)
    except RagError as exc:
        raise _fail(exc.message, 2) from exc
    missing = sorted(f for f in gold_files(items) if not (docs_dir / f).is_file())
    if missing:
        raise _fail(f"{docs_dir} lacks the set's documents, e.g. {missing[0]} (pass --docs DIR)", 2)
    pipeline = _pipeline()
    sources = collect_sources([docs_dir], recursive=False)
    results = pipeline.ingest(sources, name)
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise _fail(f"{failed[0].filename} failed to ingest: {failed[0].reason}")
    import torch

    torch.set_num_threads(settings.serve_torch_threads)  # as `rag serve` runs

    async def run() -> list:
        answers, _ = _answering()  # inside the loop: a backend's HTTP client belongs to it
        answers.retriever.components.embedder.embed_query("warm-up")  # as `rag serve` does before serving
        params = _sampling(settings.max_tokens)
        records = []
        with Progress(
            TextColumn("[bold]asking"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err_console, disable=as_json,
        ) as progress:  # fmt: skip
            task = progress.add_task("ask", total=len(items))
            for item in items:
                records.append(await ask(answers, name, item, params))
                progress.update(task, advance=1)
        return records

    try:
        records = asyncio.run(run())
    except RagError as exc:
        raise _fail(exc.message) from exc
    for record in records:
        score_record(record)
    if details:
        write_details(details, records)
    summary = {"dataset": dataset_dir.resolve().name, "collection": name, **summarize(records)}
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    table = Table("metric", "value", title=f"{summary['dataset']}: {len(records)} questions")
    for key, value in summary.items():
        if key not in ("dataset", "collection"):
            table.add_row(key, "-" if value is None else str(value))
    console.print(table)


def _sampling(max_tokens: int) -> Any:
    from rag.backends import SamplingParams

    return SamplingParams(max_tokens=max_tokens)


def check_collection(name: str) -> None:
    if _pipeline().registry.collection(name) is None:
        raise _fail(f"collection {name!r} not found (ingest into it first: rag ingest PATH -c {name})")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default RAG_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default RAG_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes; each loads its own models.")] = 1,
) -> None:
    """Start the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "api.app:app_from_env", factory=True, host=host or settings.host, port=port or settings.port,
        workers=workers, log_level="info", access_log=False,  # our own log line has the trace id too
        timeout_graceful_shutdown=settings.shutdown_grace_s,  # then requests still running are cancelled
    )  # fmt: skip


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
