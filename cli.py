"""The `rag` command line: thin commands over the same services as the HTTP API."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rag.config import get_settings
from rag.errors import RagError

# The stack (models, Chroma, LlamaIndex's chunker) takes seconds to import: each command imports what it
# uses, so `rag --help`, `docs list` and `collections list` start at once.
if TYPE_CHECKING:
    from ingest.ownership import Owner
    from ingest.pipeline import FileResult, IngestPipeline, Source
    from ingest.remote import RemoteWriter
    from rag.backends import Usage
    from rag.storage.keys import KeyStore
    from rag.storage.registry.types import Registry

app = typer.Typer(help="RAG question answering over your documents.", no_args_is_help=True)
docs_app = typer.Typer(help="Documents of a collection.", no_args_is_help=True)
collections_app = typer.Typer(help="Collections.", no_args_is_help=True)
app.add_typer(docs_app, name="docs")
app.add_typer(collections_app, name="collections")
keys_app = typer.Typer(
    help="Scoped API keys for the HTTP API (stored hashed in RAG_DATA_DIR, or in RAG_DATABASE_URL).",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")

console = Console()
err_console = Console(stderr=True)

CollectionOption = Annotated[
    str | None, typer.Option("--collection", "-c", help="Collection name (default: RAG_DEFAULT_COLLECTION, 'sample').")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _pipeline() -> IngestPipeline:
    """The local pipeline, for a command that owns the data directory (see `_writer`)."""
    from ingest.service import build_pipeline
    from rag.retrieval.components import build_components

    return build_pipeline(build_components(get_settings()))


def _registry() -> Registry:
    """Read-only commands read the registry alone: no models, no Chroma, and no crash recovery, which is
    the business of the process that writes."""
    from rag.storage.registry import open_registry

    return open_registry(get_settings())


def _writer(command: str) -> RemoteWriter | None:
    """Own the data directory for this command (after any other CLI writer ends), or, when `rag serve`
    owns it, the server to send the work to. With a Chroma server every process sees every write, so
    nobody needs to own the directory."""
    from ingest.ownership import DataDirBusy, claim
    from ingest.remote import RemoteWriter

    settings = get_settings()
    if settings.chroma_url:
        return None
    try:
        claim(settings.data_dir, command, on_wait=_say_waiting)  # held until this process exits
    except DataDirBusy as exc:
        if not exc.owner.url:
            raise _fail(f"{exc.message}; stop it, or send the work through its HTTP API") from exc
        err_console.print(f"[dim]{exc.owner.describe()} owns {settings.data_dir}: sending the work through it[/dim]")
        return RemoteWriter(exc.owner.url, next(iter(sorted(settings.api_key_set)), None))
    return None


def _say_waiting(owner: Owner) -> None:
    err_console.print(f"[dim]waiting for {owner.describe()} to finish with {get_settings().data_dir}...[/dim]")


def _collection(name: str | None) -> str:
    """Every command's default collection is the same one: the setting, as for the API."""
    return name or get_settings().default_collection


def _fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def collect_sources(paths: list[Path], recursive: bool) -> list[Source]:
    """The sources of `rag ingest PATHS` (see find_sources), without the report of what was skipped."""
    return find_sources(paths, recursive)[0]


def find_sources(
    paths: list[Path], recursive: bool, follow_symlinks: bool = False
) -> tuple[list[Source], list[FileResult]]:
    """Files named explicitly are always tried; inside folders only supported types are taken (the others
    come back as `skipped` results, so the user hears about them).

    Inside a folder the document id is the path relative to it, so equal names in subfolders stay apart.
    A `.ragignore` file in a folder lists glob patterns (relative paths) to leave out. Symlinks leaving
    a folder are not followed unless `follow_symlinks`: they come back as `skipped` results.
    """
    from ingest.folders import folder_files
    from ingest.pipeline import FileResult, Source

    sources: list[Source] = []
    skipped: list[FileResult] = []
    for path in paths:
        if path.is_dir():
            found = folder_files(path, recursive, follow_symlinks)
            sources += [Source.from_path(file, document_id=relative) for file, relative in found.files]
            skipped += [FileResult(name, name, "skipped", reason=why) for name, why in found.skipped]
        elif path.is_file():
            sources.append(Source.from_path(path))
        else:
            raise _fail(f"no such file or directory: {path}", 2)
    return sources, skipped


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    collection: CollectionOption = None,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Descend into sub-folders.")] = False,
    follow_symlinks: Annotated[
        bool, typer.Option("--follow-symlinks", help="Also ingest what symlinks pointing out of a folder point to.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Ingest files into a collection; unchanged files are skipped, changed ones replaced."""
    collection = _collection(collection)
    sources, skipped = find_sources(paths, recursive, follow_symlinks)
    if not sources:
        _print_skipped(skipped, err_console)
        raise _fail("no supported files found", 2)
    try:
        remote = _writer("rag ingest")
        with Progress(
            TextColumn("[bold]ingesting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[last]}"), console=err_console, disable=as_json,
        ) as progress:  # fmt: skip
            task = progress.add_task("ingest", total=len(sources), last="")

            def advance(result: FileResult) -> None:
                progress.update(task, advance=1, last=f"{result.filename}: {result.status}")

            writer = remote or _pipeline()
            results = writer.ingest(sources, collection, progress=advance)
    except RagError as exc:
        raise _fail(exc.message) from exc
    if as_json:
        print(json.dumps([asdict(r) for r in [*results, *skipped]], indent=2))
    else:
        _print_summary([*results, *skipped])
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


def _print_summary(results: list[FileResult]) -> None:
    counts = {s: sum(r.status == s for r in results) for s in ("ingested", "unchanged", "failed", "skipped")}
    chunks = sum(r.chunks for r in results if r.status == "ingested")
    console.print(
        f"[green]{counts['ingested']} ingested[/green] ({chunks} chunks), "
        f"{counts['unchanged']} unchanged, [red]{counts['failed']} failed[/red]"
        + (f", [yellow]{counts['skipped']} skipped[/yellow]" if counts["skipped"] else "")
    )
    for r in results:
        if r.status == "failed":
            console.print(f"  [red]✗[/red] {r.filename}: {r.reason}")
    _print_skipped([r for r in results if r.status == "skipped"])


def _print_skipped(skipped: list[FileResult], out: Console = console) -> None:
    for r in skipped:
        hint = " (--follow-symlinks to ingest it)" if "symlink" in (r.reason or "") else ""
        out.print(f"  [yellow]-[/yellow] {r.filename}: skipped, {r.reason}{hint}")


@docs_app.command("list")
def docs_list(collection: CollectionOption = None, as_json: JsonOption = False) -> None:
    """List the documents of a collection."""
    collection = _collection(collection)
    registry = _registry()
    if not registry.exists(collection):
        raise _fail(f"collection {collection!r} not found")
    records = registry.documents(collection)
    if as_json:
        print(json.dumps([r.public() for r in records], indent=2))
        return
    table = Table("document_id", "filename", "pages", "chunks", "size", "updated_at")
    for r in records:
        table.add_row(r.document_id, r.filename, str(r.pages or ""), str(r.chunk_count), f"{r.size:,}", r.updated_at)
    console.print(table)


@docs_app.command("delete")
def docs_delete(document_id: str, collection: CollectionOption = None) -> None:
    """Delete a document: its chunks, keyword entries and registry row."""
    collection = _collection(collection)
    try:
        (_writer("rag docs delete") or _pipeline()).delete_document(collection, document_id)
    except RagError as exc:
        raise _fail(exc.message) from exc
    console.print(f"deleted {document_id} from {collection}")


@collections_app.command("list")
def collections_list(as_json: JsonOption = False) -> None:
    """List collections with their document and chunk counts."""
    records = _registry().collections()
    if as_json:
        print(json.dumps([asdict(r) for r in records], indent=2))
        return
    table = Table("name", "documents", "chunks", "created_at")
    for r in records:
        table.add_row(r.name, str(r.documents), str(r.chunks), r.created_at)
    console.print(table)


@collections_app.command("delete")
def collections_delete(
    name: str, yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False
) -> None:
    """Delete a collection with all its documents (asks first on a terminal)."""
    record = _registry().collection(name)
    if record is None:
        raise _fail(f"collection {name!r} not found")
    if not yes and sys.stdin.isatty():
        question = f"Delete collection {name!r} with its {record.documents} document(s)?"
        if not typer.confirm(question, default=False, err=True):
            raise _fail("not deleted", 1)
    try:
        (_writer("rag collections delete") or _pipeline()).delete_collection(name)
    except RagError as exc:
        raise _fail(exc.message) from exc
    console.print(f"deleted collection {name}")


def _key_store() -> KeyStore:
    from rag.storage.keys import build_key_store

    return build_key_store(get_settings())


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="A name to list and revoke the key by.")],
    role: Annotated[
        str, typer.Option(help="reader (search, ask, read), writer (+ upload, delete, create collections), admin.")
    ] = "reader",
    collections: Annotated[
        str | None, typer.Option(help="Comma-separated collections the key may see (default: all).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a key and print it, once: only its SHA-256 digest is stored."""
    from rag.access import check_role, parse_collections

    try:
        scope = parse_collections(collections)
        key = _key_store().create(name, check_role(role), scope)
    except RagError as exc:
        raise _fail(exc.message) from exc
    shown = None if scope is None else sorted(scope)
    if as_json:
        print(json.dumps({"name": name, "role": role, "collections": shown, "key": key}))
        return
    print(key)
    err_console.print(
        f"key {name!r} ({role}; collections: {', '.join(shown) if shown else 'all'}) created."
        " This is the only time the key is shown: keep it now.",
        highlight=False,
    )


@keys_app.command("list")
def keys_list(as_json: JsonOption = False) -> None:
    """List the keys: name, role, collections, creation time (never the key)."""
    records = _key_store().records()
    if as_json:
        print(json.dumps([asdict(r) for r in records], indent=2))
        return
    table = Table("name", "role", "collections", "created_at")
    for r in records:
        table.add_row(r.name, r.role, ", ".join(r.collections) if r.collections is not None else "all", r.created_at)
    console.print(table)
    if get_settings().api_key_set:
        err_console.print("[dim]and the RAG_API_KEYS keys (admin, every collection)[/dim]")


@keys_app.command("revoke")
def keys_revoke(name: str) -> None:
    """Revoke a key: a running server refuses it (401) from its next request."""
    try:
        _key_store().revoke(name)
    except RagError as exc:
        raise _fail(exc.message) from exc
    console.print(f"revoked key {name}")


def _answering() -> tuple[Any, Any]:
    """The answer and chat services, in-process: no server needed."""
    from rag.answering.chat import ChatService
    from rag.answering.service import build_answer_service
    from rag.retrieval.components import build_components

    settings = get_settings()
    answers = build_answer_service(settings, build_components(settings))
    return answers, ChatService(answers)


async def _stream_reply(answers: Any, prepared: Any, params: Any) -> Any:
    """Print the answer as it streams, then the checked answer's sources; returns the final answer."""
    from rag.answering.service import Finished

    final, streamed = None, []
    async for item in answers.stream(prepared, params):
        if isinstance(item, Finished):
            final = item.answer
        else:
            streamed.append(item.text)
            console.print(item.text, end="", markup=False, highlight=False)
    console.print()
    if final is None:
        return None
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
    return final


def _answer_json(answer: Any) -> dict[str, Any]:
    """An answer as `POST /v1/query` returns it, so scripts read the CLI and the API alike."""
    from api.answers_out import query_response

    return query_response(answer).model_dump()


MaxTokensOption = Annotated[
    int | None, typer.Option("--max-tokens", min=1, help="Longest answer, in tokens (default RAG_MAX_TOKENS).")
]
TopKOption = Annotated[int, typer.Option("--top-k", min=1, max=50, help="Sources retrieved for the answer.")]
TemperatureOption = Annotated[
    float | None, typer.Option("--temperature", min=0.0, max=2.0, help="Sampling temperature (backend default).")
]


@app.command()
def ask(
    question: str,
    collection: CollectionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as /v1/query returns it.")] = False,
    max_tokens: MaxTokensOption = None,
    top_k: TopKOption = 5,
    temperature: TemperatureOption = None,
) -> None:
    """Ask one question: the answer streams, then its sources are listed."""
    import asyncio

    from rag.answering.service import RetrievalOptions
    from rag.backends import SamplingParams

    collection = _collection(collection)
    params = SamplingParams(max_tokens=max_tokens or get_settings().max_tokens, temperature=temperature)

    async def run() -> None:
        check_collection(collection)
        answers, _ = _answering()
        prepared = await answers.prepare(question, collection, RetrievalOptions(top_k=top_k), params.max_tokens)
        if as_json:
            print(json.dumps(_answer_json(await answers.finish(prepared, params))))
        else:
            await _stream_reply(answers, prepared, params)

    try:
        asyncio.run(run())
    except RagError as exc:
        raise _fail(exc.message) from exc


@app.command()
def chat(
    collection: CollectionOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Read questions from stdin; print one JSON line per turn.")
    ] = False,
    max_tokens: MaxTokensOption = None,
    top_k: TopKOption = 5,
    temperature: TemperatureOption = None,
) -> None:
    """Talk with your documents: multi-turn, streaming; an empty line or Ctrl-D ends it."""
    import asyncio

    from rag.answering.service import RetrievalOptions
    from rag.backends import Message, SamplingParams

    collection = _collection(collection)
    params = SamplingParams(max_tokens=max_tokens or get_settings().max_tokens, temperature=temperature)

    def read_question() -> str:
        if as_json:  # no prompt: stdout carries JSON only
            line = sys.stdin.readline()
            if not line:
                raise EOFError
            return line
        return console.input("[bold]you>[/bold] ")

    async def run() -> None:
        # One event loop for the whole conversation: the backend's HTTP client belongs to it.
        check_collection(collection)
        answers, chat_service = _answering()
        history: list[Message] = []
        while True:
            try:
                question = (await asyncio.to_thread(read_question)).strip()
            except EOFError:
                return
            if not question:
                return
            history.append(Message("user", question))
            try:
                options = RetrievalOptions(top_k=top_k)
                prepared = await chat_service.prepare(history, collection, options, params.max_tokens)
                if as_json:
                    reply = await answers.finish(prepared.grounded(), params)
                    print(json.dumps({"question": question, **_answer_json(reply)}), flush=True)
                else:
                    reply = await _stream_reply(answers, prepared.grounded(), params)
            except RagError as exc:
                if as_json:
                    print(json.dumps({"question": question, "error": {"message": exc.message}}), flush=True)
                else:
                    err_console.print(f"[red]error:[/red] {exc.message}")
                history.pop()
                continue
            history.append(Message("assistant", reply.answer if reply is not None else ""))

    asyncio.run(run())


@app.command()
def summarize(
    file: Annotated[Path | None, typer.Argument(help="A file to summarize without ingesting it.")] = None,
    document_id: Annotated[str | None, typer.Option("--document-id", help="A stored document instead.")] = None,
    collection: CollectionOption = None,
    instruction: Annotated[str | None, typer.Option("--instruction", "-i", help="e.g. '3 bullet points'")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as /v1/summarize returns it.")] = False,
) -> None:
    """Summarize a file or a stored document of any length, streaming the summary."""
    import asyncio

    from ingest.loaders import load_bytes
    from rag.answering.summarize import Summarizer, Unit, covered, document_units
    from rag.backends import SamplingParams, build_backend

    settings = get_settings()
    collection = _collection(collection)
    if file is None and document_id is None:
        raise _fail("nothing to summarize: give a FILE, or --document-id ID (with --collection)", 2)
    if file is not None and document_id is not None:
        raise _fail("give a FILE or --document-id, not both", 2)
    try:
        if file is not None:
            if not file.is_file():
                raise _fail(f"no such file: {file}", 2)
            loaded = load_bytes(file.name, file.read_bytes(), settings.max_file_bytes)
            units = [Unit(p.text, file.name, file.name, p.number) for p in loaded.pages if p.text.strip()]
        else:
            from rag.retrieval.keyword import open_keyword_index

            record = _registry().get(collection, document_id or "")
            if record is None or record.version is None:
                raise _fail(f"document {document_id!r} not found in collection {collection!r}")
            units = document_units(open_keyword_index(settings).document_chunks(collection, record.document_id))

        async def run() -> None:
            backend = build_backend(settings)
            summarizer = Summarizer(backend)
            params = SamplingParams(max_tokens=settings.max_tokens)
            with err_console.status("reading..."):
                plan = await summarizer.plan(units, instruction, params)
            parts, finish, usage = [], "stop", plan.usage
            async for delta in summarizer.stream(plan, params):
                parts.append(delta.text)
                finish, usage = delta.finish_reason or finish, delta.usage or usage
                if not as_json:
                    console.print(delta.text, end="", markup=False, highlight=False)
            if as_json:
                print(json.dumps(_summary_json("".join(parts), covered(units, False), usage, backend.model,
                                               finish, plan.model_calls + 1)))  # fmt: skip
                return
            console.print()
            err_console.print(f"[dim]{plan.model_calls + 1} model call(s)[/dim]")

        asyncio.run(run())
    except RagError as exc:
        raise _fail(exc.message) from exc


def _summary_json(
    text: str, sources: list[Any], usage: Usage, model: str, finish_reason: str, calls: int
) -> dict[str, Any]:
    """A summary as `POST /v1/summarize` returns it."""
    return {
        "summary": text.strip(), "sources": [asdict(s) for s in sources], "usage": usage.as_dict(), "model": model,
        "finish_reason": finish_reason, "model_calls": calls,
    }  # fmt: skip


def _corpus_to_ingest(pipeline: IngestPipeline, collection: str, corpus: dict[str, dict[str, str]]) -> list[str]:
    """Corpus ids whose document is missing or differs in `collection`; refuses a collection with strangers."""
    from rag.evaluation.retrieval import document_sha256

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
    from ingest.pipeline import Source
    from rag.evaluation.retrieval import document_text

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

    from rag.evaluation.retrieval import available_configs, default_collection_name, evaluate, load_beir
    from rag.retrieval.hybrid import Retriever
    from rag.retrieval.rerank import CrossEncoderReranker, build_reranker
    from rag.validation import check_collection_name

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

    _own_for_eval()
    from ingest.service import build_pipeline
    from rag.retrieval.components import build_components

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

    from rag.evaluation.answers import ask, gold_files, load_qa_set, score_record, summarize, write_details
    from rag.evaluation.retrieval import default_collection_name
    from rag.validation import check_collection_name

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
    _own_for_eval()
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


def _own_for_eval() -> None:
    """Evaluation ingests and searches in this process: it needs the data directory to itself."""
    remote = _writer("rag eval")
    if remote is not None:
        raise _fail(f"the server at {remote.url} owns {get_settings().data_dir}: stop it, or evaluate with"
                    " another RAG_DATA_DIR", 2)  # fmt: skip


def _sampling(max_tokens: int) -> Any:
    from rag.backends import SamplingParams

    return SamplingParams(max_tokens=max_tokens)


def check_collection(name: str) -> None:
    if not _registry().exists(name):
        raise _fail(f"collection {name!r} not found (ingest into it first: rag ingest PATH -c {name})")


@app.command("config")
def show_config(as_json: JsonOption = False) -> None:
    """Show the effective settings and where each came from (env, .env, config file, default); keys masked."""
    from rag.config import user_config_file
    from rag.settings_report import describe_settings

    rows = describe_settings(get_settings())
    path = user_config_file()
    if as_json:
        settings = {r.variable: {"value": r.value, "origin": r.origin} for r in rows}
        print(json.dumps({"config_file": str(path), "config_file_exists": path.is_file(), "settings": settings}))
        return
    console.print(f"config file: {path}" + ("" if path.is_file() else " (none)"), highlight=False)
    table = Table("setting", "value", "from")
    for r in rows:
        table.add_row(r.variable, "" if r.value is None else str(r.value), r.origin)
    console.print(table)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default RAG_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default RAG_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes; each loads its own models.")] = 1,
    no_ingest: Annotated[
        bool,
        typer.Option("--no-ingest", help="Serve only: uploads become jobs for `rag worker` (needs RAG_CHROMA_URL)."),
    ] = False,
) -> None:
    """Start the HTTP API (OpenAPI docs at /docs). With embedded Chroma the server owns its data directory:
    CLI commands that write send their work through it."""
    import os

    import uvicorn

    from ingest.ownership import DataDirBusy, claim

    if no_ingest:  # uvicorn's app factory (and each of its worker processes) reads the settings from the env
        os.environ["RAG_SERVE_INGEST"] = "false"
        get_settings.cache_clear()
    settings = get_settings()
    if not settings.serve_ingest and not settings.chroma_url:
        from api.deps import NO_INGEST_NEEDS_CHROMA_SERVER

        raise _fail(NO_INGEST_NEEDS_CHROMA_SERVER, 2)
    # With JSON logs uvicorn's own lines go through the app's JSON handler too (api/middleware/request_log.py).
    log_config = None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG
    host, port = host or settings.host, port or settings.port
    if not settings.chroma_url:
        if workers > 1:
            raise _fail("several workers need a Chroma server (RAG_CHROMA_URL): embedded Chroma serves one process", 2)
        try:  # before the models load: a busy directory is reported at once
            claim(settings.data_dir, "rag serve", url=_reachable_url(host, port))
        except DataDirBusy as exc:
            raise _fail(f"{exc.message}; wait for it to finish, or serve another RAG_DATA_DIR") from exc
    uvicorn.run(
        "api.app:app_from_env", factory=True, host=host, port=port,
        workers=workers, log_level="info", access_log=False,  # our own log line has the trace id too
        timeout_graceful_shutdown=settings.shutdown_grace_s,  # then requests still running are cancelled
        log_config=log_config,
    )  # fmt: skip


@app.command()
def worker(
    exit_when_idle: Annotated[
        bool, typer.Option("--exit-when-idle", help="Stop once no job is waiting, instead of waiting for more.")
    ] = False,
) -> None:
    """Run ingestion jobs submitted to the server (e.g. `rag serve --no-ingest`), beside other workers: each
    claims a job, heartbeats while it works, and takes over a job whose worker went silent for RAG_JOB_LEASE_S.
    SIGTERM or Ctrl-C hands the running job back to the queue."""
    import signal
    import threading

    from api.middleware.request_log import configure_logging
    from ingest.worker import own_data_dir, run_worker

    settings = get_settings()
    configure_logging(settings.log_format)
    stop = threading.Event()

    def stop_soon(signum: int, _frame: object) -> None:
        err_console.print(f"[dim]{signal.Signals(signum).name}: stopping after this encoder batch[/dim]")
        stop.set()

    signal.signal(signal.SIGTERM, stop_soon)
    signal.signal(signal.SIGINT, stop_soon)
    if settings.worker_torch_threads:
        import torch

        torch.set_num_threads(settings.worker_torch_threads)
    try:
        own_data_dir(settings)
        pipeline = _pipeline()
    except RagError as exc:
        raise _fail(exc.message) from exc
    # The loop runs in a thread, so the main one stays free to take the signal at once.
    loop = threading.Thread(target=run_worker, args=(pipeline, settings, stop, exit_when_idle), name="rag-worker")
    loop.start()
    while loop.is_alive():
        loop.join(0.5)


def _reachable_url(host: str, port: int) -> str:
    """Where a process on this machine reaches the server (a wildcard bind answers on loopback)."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
