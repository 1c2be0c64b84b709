"""Answers into the answer log (rag/answering/feedback.py) as the answer routes finish them, streamed or whole:
handed to the log's writer thread (a queue put), so the answer never waits for the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar

from api.deps import Services
from rag.answering.service import Answer, Finished

T = TypeVar("T")


async def keep_answer(services: Services, answer_id: str, collection: str, question: str, answer: Answer) -> None:
    services.keeper.record(answer_id, collection, question, answer)


async def kept(
    services: Services, items: AsyncIterator[T], answer_id: str, collection: str, question: str
) -> AsyncIterator[T]:
    """Relay an answer stream, logging its final answer on the way."""
    try:
        async for item in items:
            if isinstance(item, Finished):
                await keep_answer(services, answer_id, collection, question, item.answer)
            yield item
    finally:
        await items.aclose()  # type: ignore[attr-defined]  # an async generator
