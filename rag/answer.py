"""Answering: retrieve → re-rank → fit the context budget → prompt → backend → cited answer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from rag.backends.base import ChatBackend, Delta, Message, SamplingParams, Usage
from rag.components import Components
from rag.config import Settings
from rag.errors import InvalidInput
from rag.models import SearchHit
from rag.prompts import ABSTAIN_MESSAGE, ANSWER_SYSTEM, TEMPLATE_OVERHEAD_TOKENS, answer_user_message
from rag.retrieval import Retriever


@dataclass(frozen=True)
class RetrievalOptions:
    top_k: int = 5
    filters: dict[str, Any] | None = None
    rerank: bool = True


@dataclass
class Answer:
    id: str
    answer: str
    sources: list[SearchHit]
    abstained: bool
    model: str
    finish_reason: str
    usage: Usage = field(default_factory=Usage)


@dataclass
class PreparedAnswer:
    """Everything decided before the model is called (sources, messages), or an abstention."""

    id: str
    sources: list[SearchHit]
    messages: list[Message]
    abstained: bool


def fit_to_budget(
    hits: list[SearchHit], fixed_tokens: int, budget: int, count_tokens: Callable[[str], int]
) -> list[SearchHit]:
    """Keep the best-ranked hits that fit `budget` tokens; the lowest-ranked go first."""
    kept, used = [], fixed_tokens
    for hit in hits:
        cost = count_tokens(hit.text) + 16  # the "[n] (file, page p)" label and spacing
        if used + cost > budget:
            break
        kept.append(hit)
        used += cost
    return kept


class AnswerService:
    def __init__(
        self, retriever: Retriever, backend: ChatBackend, abstain_threshold: float, context_tokens: int | None = None
    ) -> None:
        self.retriever = retriever
        self.backend = backend
        self.abstain_threshold = abstain_threshold
        self.context_tokens = context_tokens

    async def prepare(
        self, question: str, collection: str, options: RetrievalOptions, max_tokens: int
    ) -> PreparedAnswer:
        answer_id = f"ans-{uuid.uuid4().hex[:24]}"
        retrieval = await asyncio.to_thread(
            self.retriever.search, collection, question, options.top_k, options.filters, options.rerank
        )
        if not retrieval.hits or retrieval.best_similarity < self.abstain_threshold:
            return PreparedAnswer(answer_id, [], [], abstained=True)
        count = self.backend.count_tokens
        fixed = count(ANSWER_SYSTEM) + count(answer_user_message(question, [])) + 2 * TEMPLATE_OVERHEAD_TOKENS
        budget = self.backend.context_window - max_tokens
        if fixed >= budget:
            raise InvalidInput(
                f"question and max_tokens ({max_tokens}) do not fit the model's context window"
                f" of {self.backend.context_window} tokens"
            )
        if self.context_tokens is not None:
            budget = min(budget, fixed + self.context_tokens)
        sources = fit_to_budget(retrieval.hits, fixed, budget, count)
        if not sources:
            return PreparedAnswer(answer_id, [], [], abstained=True)
        messages = [Message("system", ANSWER_SYSTEM), Message("user", answer_user_message(question, sources))]
        return PreparedAnswer(answer_id, sources, messages, abstained=False)

    async def answer(self, question: str, collection: str, options: RetrievalOptions, params: SamplingParams) -> Answer:
        prepared = await self.prepare(question, collection, options, params.max_tokens)
        if prepared.abstained:
            return Answer(prepared.id, ABSTAIN_MESSAGE, [], True, self.backend.model, "abstained")
        completion = await self.backend.complete(prepared.messages, params)
        return Answer(
            prepared.id, completion.text, prepared.sources, False, completion.model,
            completion.finish_reason, completion.usage,
        )  # fmt: skip

    async def stream(self, prepared: PreparedAnswer, params: SamplingParams) -> AsyncIterator[Delta]:
        """The answer's deltas; for an abstention, the fixed message as one delta."""
        if prepared.abstained:
            yield Delta(text=ABSTAIN_MESSAGE)
            yield Delta(finish_reason="abstained", usage=Usage())
            return
        async for delta in self.backend.stream(prepared.messages, params):
            yield delta


def build_answer_service(
    settings: Settings, components: Components, backend: ChatBackend | None = None
) -> AnswerService:
    """Retriever (with the configured re-ranker) and chat backend wired from settings; shared by API and CLI."""
    from rag.backends import build_backend
    from rag.rerank import build_reranker

    retriever = Retriever(components, build_reranker(settings.reranker_model))
    return AnswerService(
        retriever, backend or build_backend(settings), settings.abstain_threshold, settings.answer_context_tokens
    )
