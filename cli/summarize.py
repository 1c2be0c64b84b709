"""`rag summarize`: a file, or a stored document, summarized by the chat model, streamed."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import CollectionOption, collection_or_default, console, err_console, fail, read_registry
from rag.config import Settings, get_settings
from rag.errors import RagError

if TYPE_CHECKING:
    from rag.answering.summarize import Unit
    from rag.backends import Usage


def register(app: typer.Typer) -> None:
    app.command()(summarize)


def summarize(
    file: Annotated[Path | None, typer.Argument(help="A file to summarize without ingesting it.")] = None,
    document_id: Annotated[str | None, typer.Option("--document-id", help="A stored document instead.")] = None,
    collection: CollectionOption = None,
    instruction: Annotated[str | None, typer.Option("--instruction", "-i", help="e.g. '3 bullet points'")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as /v1/summarize returns it.")] = False,
) -> None:
    """Summarize a file or a stored document of any length, streaming the summary."""
    import asyncio

    from rag.answering.summarize import Summarizer, covered
    from rag.backends import SamplingParams, build_backend

    settings = get_settings()
    collection = collection_or_default(collection)
    if file is None and document_id is None:
        raise fail("nothing to summarize: give a FILE, or --document-id ID (with --collection)", 2)
    if file is not None and document_id is not None:
        raise fail("give a FILE or --document-id, not both", 2)
    try:
        units = _file_units(file, settings) if file is not None else _document_units(collection, document_id or "")

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
        raise fail(exc.message) from exc


def _file_units(file: Path, settings: Settings) -> list[Unit]:
    """A file read as the ingestion would read it, page by page; nothing is stored."""
    from ingest.loaders import OcrOptions, load_bytes
    from rag.answering.summarize import Unit

    if not file.is_file():
        raise fail(f"no such file: {file}", 2)
    ocr = OcrOptions(settings.ocr, settings.ocr_languages)  # a scan is summarized as ingestion would read it
    loaded = load_bytes(file.name, file.read_bytes(), settings.max_file_bytes, ocr)
    return [Unit(p.text, file.name, file.name, p.number) for p in loaded.pages if p.text.strip()]


def _document_units(collection: str, document_id: str) -> list[Unit]:
    """A stored document's chunks, as `POST /v1/summarize` reads them (the keyword index only: no models)."""
    import asyncio

    from rag.answering.summary_sources import Library, SummarySource, summary_input
    from rag.retrieval.keyword import open_keyword_index

    library = Library(read_registry(), open_keyword_index(get_settings()))
    source = SummarySource(document_id=document_id, collection=collection)
    return asyncio.run(summary_input(source, library)).units


def _summary_json(
    text: str, sources: list[Any], usage: Usage, model: str, finish_reason: str, calls: int
) -> dict[str, Any]:
    """A summary as `POST /v1/summarize` returns it."""
    return {
        "summary": text.strip(), "sources": [asdict(s) for s in sources], "usage": usage.as_dict(), "model": model,
        "finish_reason": finish_reason, "model_calls": calls,
    }  # fmt: skip
