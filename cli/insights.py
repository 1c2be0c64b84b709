"""`rag insights COLLECTION`: how a collection is doing, read off the answer log (as GET .../insights)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cli.common import JsonOption, check_collection, console, read_registry
from rag.config import get_settings

if TYPE_CHECKING:
    from rag.answering.insights import Insights


def register(app: typer.Typer) -> None:
    app.command("insights")(insights)


def insights(
    collection: Annotated[str, typer.Argument(help="The collection to report on.")],
    days: Annotated[int, typer.Option("--days", min=1, help="The period: the last N days.")] = 30,
    as_json: JsonOption = False,
) -> None:
    """Questions asked, the share answered and abstained (by reason), answers voted down, the unanswered
    questions grouped by topic (the documents to write) and the documents no answer cited."""
    from rag.answering.feedback import iso_days_ago
    from rag.answering.insights import collection_insights
    from rag.retrieval.embeddings import load_embedder
    from rag.storage.answers import open_answer_log

    settings = get_settings()
    check_collection(collection)
    embedder = load_embedder(settings.embedding_model, settings.embedding_batch_size, onnx_queries=False)
    found = collection_insights(open_answer_log(settings), read_registry(), embedder, collection, iso_days_ago(days))
    if as_json:
        print(json.dumps(found.as_dict(), indent=2))
        return
    _print(found)


def _print(found: Insights) -> None:
    console.print(f"[bold]{found.collection}[/bold] since {found.since}", highlight=False)
    share = f"{found.answered_share:.0%}" if found.questions else "-"
    console.print(
        f"{found.questions} questions, {found.answered} answered ({share}), {found.abstained} abstained;"
        f" feedback: {found.ratings['up']} up, {found.ratings['down']} down",
        highlight=False,
    )
    for reason, count in sorted(found.abstained_by_reason.items(), key=lambda kv: -kv[1]):
        console.print(f"  abstained, {reason}: {count}", highlight=False)
    for note in found.notes:
        console.print(f"[dim]{note}[/dim]")
    if found.unanswered_topics:
        table = Table("asked", "unanswered questions on one topic (the documents to write)", title="Unanswered")
        for topic in found.unanswered_topics:
            table.add_row(str(topic.count), "\n".join(topic.examples))
        console.print(table)
    if found.down_voted:
        table = Table("question", "comment", "should cite", title="Voted down")
        for vote in found.down_voted:
            table.add_row(vote["question"] or "-", vote["comment"] or "", vote["source"] or "")
        console.print(table)
    if found.never_cited:
        table = Table("document", title="Never cited in the period")
        for document in found.never_cited:
            table.add_row(document["document_id"])
        console.print(table)
