"""Answering: retrieve → decide answerability → fit the context budget → generate or extract → verify citations.

Every answer ends with a `Finished` event carrying the final `Answer`: its text with `[n]` markers
repaired by the checker, per-sentence citations, and the abstention decision. Streams send the text
as it is produced first; the final answer can differ from what was streamed (markers repaired, an
unsupported answer replaced by an abstention or by extracted sentences), and says so.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from rag.answering.answerability import (
    MAX_NAMED_DOCUMENTS,
    SHIPPED_MODEL,
    AnswerabilityJudge,
    AnswerabilityModel,
    document_names,
)
from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.grounding import GroundingChecker, GroundingReport, build_verifier, is_refusal
from rag.answering.overview import CollectionOverview, is_collection_question
from rag.answering.prompts import ABSTAIN_MESSAGE, ANSWER_SYSTEM, TEMPLATE_OVERHEAD_TOKENS, answer_user_message
from rag.answering.quoting import quoter_for, strip_prompt_markup
from rag.answering.sentences import SentenceVectors
from rag.answering.task_answers import TaskAnswerer
from rag.answering.tasks import read_task
from rag.backends.base import ChatBackend, Delta, Message, SamplingParams, Usage
from rag.backends.observed import ObservedBackend
from rag.config import AnswerMode, Settings
from rag.errors import InvalidInput
from rag.retrieval.components import Components
from rag.retrieval.hybrid import Retriever
from rag.telemetry import record_answer, stage
from rag.text.instructions import flagged, unflagged_first
from rag.types import SearchHit

# no_relevant_sources: the sources cannot answer (judged before answering); no_answer_in_sources: no sentence
# of them, or of the generated answer, addresses the question; unsupported_answer: the sources do not hold it.
AbstainReason = Literal["no_relevant_sources", "no_answer_in_sources", "unsupported_answer"]


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
    abstain_reason: AbstainReason | None = None
    related: list[SearchHit] = field(default_factory=list)  # the closest sources, when abstaining
    grounding: GroundingReport | None = None
    mode: str = "generate"  # how the text was made: generate | extract | overview | task | abstain


@dataclass
class PreparedAnswer:
    """Everything decided before the model is called (sources, messages), or an abstention."""

    id: str
    question: str
    sources: list[SearchHit]
    messages: list[Message]
    abstained: bool
    abstain_reason: AbstainReason | None = None
    related: list[SearchHit] = field(default_factory=list)
    mode: AnswerMode | Literal["overview", "task"] = "generate"
    overview: GroundingReport | None = None  # the answer made without the model: the collection's, or a task's
    task: str | None = None  # a request for a task (rag/answering/tasks.py): summary | steps | compare

    @property
    def needs_model(self) -> bool:
        return not self.abstained and self.mode not in ("overview", "extract", "task")


@dataclass
class Finished:
    """The last item of an answer stream: the final, verified answer."""

    answer: Answer


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
        self,
        retriever: Retriever,
        backend: ChatBackend,
        judge: AnswerabilityJudge,
        checker: GroundingChecker,
        extractor: ExtractiveAnswerer,
        overview: CollectionOverview,
        mode: AnswerMode = "generate",
        context_tokens: int | None = None,
        tasks: TaskAnswerer | None = None,
    ) -> None:
        self.retriever = retriever
        self.backend = backend
        self.judge = judge
        self.checker = checker
        self.extractor = extractor
        self.overview = overview
        self.mode = mode
        self.context_tokens = context_tokens
        self.quoter = quoter_for(backend)
        self.tasks = tasks

    @property
    def may_generate(self) -> bool:
        """Whether an answer may call the chat model (in extract mode none does)."""
        return self.mode != "extract"

    async def prepare(
        self, question: str, collection: str, options: RetrievalOptions, max_tokens: int, judge: bool = True
    ) -> PreparedAnswer:
        """`judge=False` skips the answerability check (for follow-ups rewritten with conversational words,
        which its thresholds were not set on); the citation check after generation still applies."""
        answer_id = f"ans-{uuid.uuid4().hex[:24]}"
        if is_collection_question(question):
            report, sources = await asyncio.to_thread(self.overview.describe, collection)
            return PreparedAnswer(answer_id, question, sources, [], False, mode="overview", overview=report)
        task = read_task(question) if self.tasks is not None else None
        if task is not None and self.tasks is not None:
            plan = await self.tasks.serve(task, collection, options.filters, options.top_k, options.rerank,
                                          max_tokens, quote=self.mode == "extract")  # fmt: skip
            if plan is not None and plan.reask is not None:  # "what does X say about Y": Y, from X alone
                question, options = plan.reask.question, replace(options, filters=plan.reask.filters)
            elif plan is not None:
                return PreparedAnswer(answer_id, question, plan.sources, plan.messages, False, overview=plan.report,
                                      mode="task" if plan.report else self.mode, task=task.kind)  # fmt: skip
        retrieval = await asyncio.to_thread(
            self.retriever.search, collection, question, options.top_k, options.filters, options.rerank
        )
        if judge and not (await asyncio.to_thread(self.judge.assess, collection, question, retrieval)).answerable:
            return PreparedAnswer(
                answer_id, question, [], [], True, "no_relevant_sources", related=retrieval.hits, mode=self.mode
            )
        # Passages that give orders to an AI stay among the sources, flagged, after those an answer may use.
        hits = unflagged_first(retrieval.hits)
        if self.mode == "extract":
            return PreparedAnswer(answer_id, question, hits, [], False, mode="extract")
        count = self.backend.count_tokens
        user_message = answer_user_message(question, [], self.quoter)
        fixed = count(ANSWER_SYSTEM) + count(user_message) + 2 * TEMPLATE_OVERHEAD_TOKENS
        budget = self.backend.context_window - max_tokens
        if fixed >= budget:
            raise InvalidInput(
                f"question and max_tokens ({max_tokens}) do not fit the model's context window"
                f" of {self.backend.context_window} tokens"
            )
        if self.context_tokens is not None:
            budget = min(budget, fixed + self.context_tokens)
        sources = fit_to_budget(usable(hits), fixed, budget, count)
        if not sources:
            return PreparedAnswer(
                answer_id, question, [], [], True, "no_relevant_sources", related=retrieval.hits, mode=self.mode
            )
        sources += [hit for hit in hits if flagged(hit)]  # shown, never in the prompt (see context_block)
        user_message = answer_user_message(question, sources, self.quoter)
        messages = [Message("system", ANSWER_SYSTEM), Message("user", user_message)]
        return PreparedAnswer(answer_id, question, sources, messages, False, mode=self.mode)

    async def answer(self, question: str, collection: str, options: RetrievalOptions, params: SamplingParams) -> Answer:
        return await self.finish(await self.prepare(question, collection, options, params.max_tokens), params)

    async def finish(self, prepared: PreparedAnswer, params: SamplingParams) -> Answer:
        """The whole verified answer of a prepared question."""
        async for item in self.stream(prepared, params):
            if isinstance(item, Finished):
                return item.answer
        raise AssertionError("an answer stream always ends with Finished")

    async def stream(self, prepared: PreparedAnswer, params: SamplingParams) -> AsyncIterator[Delta | Finished]:
        """The answer's text as it is produced, then `Finished` with the verified answer."""
        if prepared.abstained:
            yield Delta(text=ABSTAIN_MESSAGE)
            yield _finished(self._abstention(prepared, prepared.abstain_reason or "no_relevant_sources"))
            return
        if prepared.mode in ("overview", "extract", "task"):
            answer = await self._without_model(prepared)
            yield Delta(text=answer.answer)
            yield _finished(answer)
            return
        parts: list[str] = []
        finish_reason, usage = "stop", Usage()
        async for delta in self.backend.stream(prepared.messages, params):
            if delta.text:
                parts.append(delta.text)
                yield Delta(text=delta.text)
            if delta.finish_reason:
                finish_reason, usage = delta.finish_reason, delta.usage or usage
        yield _finished(await self._verified("".join(parts), prepared, finish_reason, usage))

    async def _without_model(self, prepared: PreparedAnswer) -> Answer:
        if prepared.overview is not None:
            model = "collection-overview" if prepared.mode == "overview" else "extractive"
            return Answer(prepared.id, prepared.overview.answer, prepared.sources, False, model,
                          "stop", grounding=prepared.overview, mode=prepared.mode)  # fmt: skip
        extracted = await asyncio.to_thread(self.extractor.answer, prepared.question, usable(prepared.sources))
        if extracted.empty:
            return self._abstention(prepared, "no_answer_in_sources")
        with stage("check"):
            text = strip_prompt_markup(extracted.text)
            report = await asyncio.to_thread(self.checker.check, text, prepared.sources, True)
        return Answer(prepared.id, report.answer, prepared.sources, False, "extractive", "stop",
                      grounding=report, mode="extract")  # fmt: skip

    async def _verified(self, text: str, prepared: PreparedAnswer, finish_reason: str, usage: Usage) -> Answer:
        """Check the generated text against its sources; repair markers, or fall back when nothing holds."""
        text = strip_prompt_markup(text)
        with stage("check"):
            report = await asyncio.to_thread(self.checker.check, text, prepared.sources, True)
        # A task's answer (a summary, steps) is judged by its sources alone: "summarize X" is no question
        # its sentences could be close to.
        relevant = report.supported > 0 and (
            prepared.task is not None or await asyncio.to_thread(self._addresses, prepared.question, report)
        )
        if relevant and not is_refusal(text):
            return Answer(prepared.id, report.answer, prepared.sources, False, self.backend.model, finish_reason,
                          usage, grounding=report, mode="generate")  # fmt: skip
        if prepared.mode == "auto":
            fallback = await self._without_model(
                PreparedAnswer(prepared.id, prepared.question, prepared.sources, [], False, mode="extract")
            )
            if not fallback.abstained:
                fallback.usage = usage
                return fallback
        reason: AbstainReason = (
            "no_relevant_sources" if is_refusal(text) else "unsupported_answer" if not report.supported
            else "no_answer_in_sources"
        )  # fmt: skip
        answer = self._abstention(prepared, reason)
        # The model did run: its finish reason and usage stay; `abstained` says the text was withheld.
        answer.usage, answer.grounding, answer.finish_reason = usage, report, finish_reason
        return answer

    def _addresses(self, question: str, report: GroundingReport) -> bool:
        """Whether the answer addresses the question: in a source is not enough. A terse answer ("500.")
        is judged by the source passages that support it, which state what it answers."""
        quotes = [c.quote for c in report.citations]
        vectors = self.extractor.vectors
        supporting = vectors.similarities(vectors.question(question), quotes)
        best = max(vectors.relevance(question, report.answer), float(supporting.max()) if len(supporting) else 0.0)
        return best >= self.extractor.min_relevance

    def _abstention(self, prepared: PreparedAnswer, reason: AbstainReason) -> Answer:
        related = prepared.related or prepared.sources
        return Answer(prepared.id, ABSTAIN_MESSAGE, [], True, self.backend.model, "abstained",
                      abstain_reason=reason, related=related, mode="abstain")  # fmt: skip


def usable(sources: list[SearchHit]) -> list[SearchHit]:
    """The sources an answer may quote or use: those before the first flagged one (flagged come last)."""
    return next((sources[:i] for i, hit in enumerate(sources) if flagged(hit)), sources)


def _finished(answer: Answer) -> Finished:
    record_answer(answer.mode, answer.abstain_reason)
    return Finished(answer)


def build_answer_service(
    settings: Settings, components: Components, backend: ChatBackend | None = None
) -> AnswerService:
    """Retriever (with the configured re-ranker), chat backend and checkers wired from settings; shared by
    API and CLI."""
    from rag.backends import build_backend
    from rag.retrieval.rerank import build_reranker

    keyword = components.keyword
    retriever = Retriever(components, build_reranker(settings.reranker_model))
    vectors = SentenceVectors(components.embedder)
    model = AnswerabilityModel.load(settings.answerability_model) if settings.answerability_model else SHIPPED_MODEL
    judge = AnswerabilityJudge(
        keyword.analyzer, components.embedder.tokenize, keyword.term_counts,
        lambda collection, query: [hit.text for hit in keyword.search(collection, query, 20)],
        lambda collection: document_names(keyword.first_chunks(collection, MAX_NAMED_DOCUMENTS)), vectors, model,
    )  # fmt: skip
    service = AnswerService(
        retriever,
        ObservedBackend(backend or build_backend(settings)),  # times generations, counts tokens (/metrics)
        judge,
        GroundingChecker(components.embedder, build_verifier(settings.verifier_model)),
        ExtractiveAnswerer(vectors, min_relevance=model.min_relevance),
        CollectionOverview(keyword),
        settings.effective_answer_mode,
        settings.answer_context_tokens,
    )
    service.tasks = TaskAnswerer(
        retriever, keyword, components.store, components.embedder, service.extractor, service.checker, service.backend,
        lambda collection, question, retrieval: judge.assess(collection, question, retrieval).answerable,
        settings.answer_context_tokens,
    )  # fmt: skip
    return service
