"""`rag ask` and `rag chat`: answers from the documents, streamed, with their sources."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import CollectionOption, check_collection, collection_or_default, console, err_console, fail
from rag.config import get_settings
from rag.errors import RagError

if TYPE_CHECKING:
    from rag.answering.chat import ChatService
    from rag.answering.service import AnswerService, RetrievalOptions
    from rag.backends import SamplingParams

MaxTokensOption = Annotated[
    int | None, typer.Option("--max-tokens", min=1, help="Longest answer, in tokens (default RAG_MAX_TOKENS).")
]
TopKOption = Annotated[int, typer.Option("--top-k", min=1, max=50, help="Sources retrieved for the answer.")]
TemperatureOption = Annotated[
    float | None, typer.Option("--temperature", min=0.0, max=2.0, help="Sampling temperature (backend default).")
]


def register(app: typer.Typer) -> None:
    app.command()(ask)
    app.command()(chat)


@dataclass
class Session:
    """What `ask` and `chat` answer with: the collection, the in-process services and the options."""

    collection: str
    answers: AnswerService
    chat: ChatService
    retrieval: RetrievalOptions
    params: SamplingParams


def run_session(
    collection: str | None,
    max_tokens: int | None,
    top_k: int,
    temperature: float | None,
    talk: Callable[[Session], Awaitable[None]],
) -> None:
    """What `ask` and `chat` share: the default collection and sampling, one event loop for the whole talk
    (a backend's HTTP client belongs to it), the collection checked, then the services built inside it."""
    import asyncio

    from rag.answering.service import RetrievalOptions
    from rag.backends import SamplingParams

    name = collection_or_default(collection)
    params = SamplingParams(max_tokens=max_tokens or get_settings().max_tokens, temperature=temperature)

    async def run() -> None:
        check_collection(name)  # before the models load: a wrong name is reported at once
        answers, chat_service = _answering()
        await talk(Session(name, answers, chat_service, RetrievalOptions(top_k=top_k), params))

    asyncio.run(run())


def _answering() -> tuple[AnswerService, ChatService]:
    """The answer and chat services, in-process: no server needed."""
    from rag.answering.chat import ChatService
    from rag.answering.service import build_answer_service
    from rag.retrieval.components import build_components

    settings = get_settings()
    answers = build_answer_service(settings, build_components(settings))
    return answers, ChatService(answers)


def ask(
    question: str,
    collection: CollectionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as /v1/query returns it.")] = False,
    max_tokens: MaxTokensOption = None,
    top_k: TopKOption = 5,
    temperature: TemperatureOption = None,
) -> None:
    """Ask one question: the answer streams, then its sources are listed."""

    async def answer(session: Session) -> None:
        answers, params = session.answers, session.params
        prepared = await answers.prepare(question, session.collection, session.retrieval, params.max_tokens)
        if as_json:
            print(json.dumps(answer_json(await answers.finish(prepared, params))))
        else:
            await stream_reply(answers, prepared, params)

    try:
        run_session(collection, max_tokens, top_k, temperature, answer)
    except RagError as exc:
        raise fail(exc.message) from exc


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

    def read_question() -> str:
        if as_json:  # no prompt: stdout carries JSON only
            line = sys.stdin.readline()
            if not line:
                raise EOFError
            return line
        return console.input("[bold]you>[/bold] ")

    async def converse(session: Session) -> None:
        import asyncio

        from rag.backends import Message

        answers, params = session.answers, session.params
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
                prepared = await session.chat.prepare(history, session.collection, session.retrieval, params.max_tokens)
                if as_json:
                    reply = await answers.finish(prepared.grounded(), params)
                    print(json.dumps({"question": question, **answer_json(reply)}), flush=True)
                else:
                    reply = await stream_reply(answers, prepared.grounded(), params)
            except RagError as exc:
                if as_json:
                    print(json.dumps({"question": question, "error": {"message": exc.message}}), flush=True)
                else:
                    err_console.print(f"[red]error:[/red] {exc.message}")
                history.pop()
                continue
            history.append(Message("assistant", reply.answer if reply is not None else ""))

    run_session(collection, max_tokens, top_k, temperature, converse)


async def stream_reply(answers: AnswerService, prepared: Any, params: SamplingParams) -> Any:
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


def answer_json(answer: Any) -> dict[str, Any]:
    """An answer as `POST /v1/query` returns it, so scripts read the CLI and the API alike."""
    from api.answers_out import query_response

    return query_response(answer).model_dump()
