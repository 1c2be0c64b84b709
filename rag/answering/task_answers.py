"""Serving task requests (see `tasks.py`): what each is answered from, and whether the model writes it.

- a summary of a document (or of a topic, when what is named is not a document): in extract mode its most
  representative sentences, quoted; otherwise the summary prompt over its chunks, for the model;
- "what does X say about Y": Y, on the normal answer path, with retrieval restricted to X;
- a list of steps: the list block of the best source that fits the request, quoted item by item;
- a comparison: each side retrieved on its own; quoted and labelled, or both sides' sources for the model.
Every answer cites `[n]` and is checked by the grounding checker like any other.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.grounding import GroundingChecker, GroundingReport
from rag.answering.prompts import (  # fmt: skip
    ANSWER_SYSTEM,
    SUMMARY_CITE,
    SUMMARY_DEFAULT_INSTRUCTION,
    SUMMARY_SYSTEM,
    SUMMARY_USER,
    TEMPLATE_OVERHEAD_TOKENS,
    answer_user_message,
)
from rag.answering.quoting import quoter_for
from rag.answering.summarize import Summarizer, hit_units
from rag.answering.task_extracts import (  # fmt: skip
    MAX_STEPS,
    SUMMARY_SENTENCES,
    ListBlock,
    Quote,
    block_score,
    continuation,
    coverage,
    list_blocks,
    prose_sentences,
    representative,
)
from rag.answering.tasks import DocumentName, TaskRequest, opening_lines, resolve_document
from rag.backends.base import ChatBackend, Message, SamplingParams
from rag.retrieval.embeddings import Embedder
from rag.retrieval.hybrid import Retrieval, Retriever
from rag.retrieval.keyword import KeywordIndex
from rag.storage.vectors import VectorStore
from rag.text.analyzer import Analyzer
from rag.text.instructions import flagged
from rag.types import Chunk, SearchHit

MAX_DOCUMENTS = 5000  # documents whose names a request is matched against
SUMMARY_CHUNKS = 12  # chunks of a long document whose sentences are candidates for its extractive summary
MIN_TOPIC_HITS = 6
MIN_STEP_COVERAGE = 0.5  # weighted share of the request's words the list (with its lead line) must hold
MIN_STEP_SIMILARITY = 0.45  # MiniLM cosine: 0.54-0.55 for lists that answered, 0.40 for one that only shared words
MIN_TOPIC_COVERAGE = 0.5  # weighted share of a topic's words a sentence of its summary must hold
_SCOPE = re.compile(r"^(?P<topic>.+?)\s+(?:in|of|from|within)\s+(?P<document>.+)$", re.IGNORECASE)
_PART = re.compile(r"^(?:the\s+)?(?:section|part|chapter|bit|paragraph)s?\s+(?:on|about|of|for)\s+", re.IGNORECASE)
Answerable = Callable[[str, str, Retrieval], bool]  # (collection, question, retrieval): the answerability gate


@dataclass(frozen=True)
class Reask:
    """Answer `question` on the normal path, with these retrieval filters (restricted to one document)."""

    question: str
    filters: dict[str, Any] | None


@dataclass
class TaskPlan:
    """A task's sources and either its answer (`report`, made without the model), the model's prompt
    (`messages`), or a question for the normal answer path (`reask`)."""

    sources: list[SearchHit] = field(default_factory=list)
    report: GroundingReport | None = None
    messages: list[Message] = field(default_factory=list)
    reask: Reask | None = None


class TaskAnswerer:
    def __init__(
        self,
        retriever: Retriever,
        keyword: KeywordIndex,
        vectors: VectorStore,
        embedder: Embedder,
        extractor: ExtractiveAnswerer,
        checker: GroundingChecker,
        backend: ChatBackend,
        answerable: Answerable,
        context_tokens: int | None = None,
    ) -> None:
        self.retriever = retriever
        self.keyword = keyword
        self.vectors = vectors
        self.embedder = embedder
        self.extractor = extractor
        self.checker = checker
        self.backend = backend
        self.answerable = answerable
        self.context_tokens = context_tokens
        self.summarizer = Summarizer(backend)
        self.quoter = quoter_for(backend)
        self.analyzer = Analyzer()

    async def serve(
        self, task: TaskRequest, collection: str, filters: dict[str, Any] | None, top_k: int, rerank: bool,
        max_tokens: int, quote: bool,
    ) -> TaskPlan | None:  # fmt: skip
        """How to answer `task`; None sends the request down the normal answer path (nothing fits the task:
        "what's in the box?" names no document). `quote`: answer without the model (extract mode)."""
        search = _Search(self, collection, filters, top_k, rerank)
        if task.kind == "steps":  # no list that fits: what the request is about, on the normal path
            steps = await asyncio.to_thread(self._steps, search, task.targets[0])
            return steps or TaskPlan(reask=Reask(task.targets[0], filters))
        if task.kind == "compare":
            return await self._compare(search, task, max_tokens, quote)
        documents = await asyncio.to_thread(self._documents, collection)
        document = resolve_document(task.targets[0], documents)
        about = task.about
        if document is None and task.kind == "summary" and task.about is None:
            scoped = _SCOPE.match(task.targets[0])  # "the password rules in the security policy"
            document = resolve_document(scoped.group("document"), documents) if scoped else None
            about = _PART.sub("", scoped.group("topic")) if scoped and document else None
        if document is None and task.document_only:
            return None
        if task.kind == "ask":
            assert document is not None and about is not None
            return TaskPlan(reask=Reask(about, {**(filters or {}), "document_id": document.document_id}))
        if document is not None and about is None:
            chunks = await asyncio.to_thread(self.keyword.document_chunks, collection, document.document_id)
            usable = [h for h in map(_hit, chunks) if not flagged(h)]  # text that gives orders is never summarised
            return await self._summary(search, usable, None, max_tokens, quote, document.filename)
        topic = about or task.targets[0]
        if document is not None:
            search = _Search(self, collection, {**(filters or {}), "document_id": document.document_id}, top_k, rerank)
        hits = await asyncio.to_thread(search.answerable_hits, topic, max(top_k, MIN_TOPIC_HITS))
        if not hits:
            return None
        return await self._summary(search, hits, topic, max_tokens, quote, document.filename if document else None)

    def _weights(self, collection: str, text: str) -> dict[str, float]:
        """The request's word stems, each weighted by its rarity in the collection (IDF over chunks)."""
        counts, total = self.keyword.term_counts(collection, text)
        return {term: math.log(1 + (total + 1) / (count + 1)) for term, count in counts.items()}

    def _documents(self, collection: str) -> list[DocumentName]:
        return [
            DocumentName(c.document_id, str(c.metadata.get("filename", c.document_id)), opening_lines(c.text))
            for c in self.keyword.first_chunks(collection, MAX_DOCUMENTS)
        ]

    # --- summaries -------------------------------------------------------------------------------------------

    async def _summary(
        self, search: _Search, hits: list[SearchHit], topic: str | None, max_tokens: int, quote: bool,
        filename: str | None,
    ) -> TaskPlan | None:  # fmt: skip
        """Of a whole document (`topic` None: its chunks in order) or of a topic (`hits` as retrieved)."""
        if not hits:
            return None
        stored = await asyncio.to_thread(self.vectors.embeddings, search.collection, [h.chunk_id for h in hits])
        anchor = await asyncio.to_thread(_anchor, self.embedder, topic, stored)
        if quote:
            quoted = self._quoted_summary
            return await asyncio.to_thread(quoted, search.collection, hits, stored, anchor, topic, filename)
        chosen = self._fitting(_central(hits, stored, anchor) if topic is None else hits, max_tokens)
        if not chosen:
            return None
        if topic is None:
            chosen.sort(key=hits.index)  # a document's chunks in its order
        plan = await self.summarizer.plan(hit_units(chosen), None, SamplingParams(max_tokens=max_tokens), cite=True)
        return TaskPlan(chosen, messages=plan.messages)

    def _quoted_summary(
        self, collection: str, hits: list[SearchHit], stored: dict[str, np.ndarray], anchor: np.ndarray | None,
        topic: str | None, filename: str | None,
    ) -> TaskPlan | None:  # fmt: skip
        if topic is None and len(hits) > SUMMARY_CHUNKS:
            hits = sorted(_central(hits, stored, anchor)[:SUMMARY_CHUNKS], key=hits.index)
        quotes = prose_sentences(hits)
        if topic is not None:  # about the topic, not just near it ("the parking policy": not the security policy)
            weights = self._weights(collection, topic)
            quotes = [q for q in quotes if coverage(q.text, weights, self.analyzer) >= MIN_TOPIC_COVERAGE]
        if not quotes:
            return None
        vectors = self.embedder.embed_documents([q.text for q in quotes])
        center = anchor if anchor is not None else _normalized(vectors.mean(axis=0))
        picked = representative(quotes, vectors, center, SUMMARY_SENTENCES)
        if topic is None:
            heading = f"Summary of {filename}:"
        elif filename:
            heading = f"What {filename} says about {topic}:"
        else:
            heading = f"What the documents say about {topic}:"
        return self._report(heading, [("", picked)], hits)

    def _fitting(self, hits: list[SearchHit], max_tokens: int) -> list[SearchHit]:
        """The first chunks the summary prompt holds in one call. No map-reduce inside an answer: its calls
        would not wait their turn in the model's queue, and a long document took minutes."""
        count = self.backend.count_tokens
        instruction = f"{SUMMARY_DEFAULT_INSTRUCTION} {SUMMARY_CITE}"
        fixed = count(SUMMARY_SYSTEM) + count(SUMMARY_USER + instruction) + 2 * TEMPLATE_OVERHEAD_TOKENS
        budget = self.backend.context_window - max_tokens - fixed
        if self.context_tokens is not None:
            budget = min(budget, self.context_tokens)
        return _within(hits, budget, count)

    def _report(
        self, heading: str, sections: list[tuple[str, list[Quote]]], hits: list[SearchHit], lead: Quote | None = None
    ) -> TaskPlan | None:
        """The quotes as "- quote [n]" lines under their labels; sources numbered in order of first citation."""
        numbers: dict[str, int] = {}
        sources: list[SearchHit] = []
        lines = [heading] if heading else []
        if lead is not None:
            lines.append(lead.text)
        for label, quotes in sections:
            if label:
                lines.append(f"\n{label}:")
            for q in quotes:
                hit = hits[q.source]
                if hit.chunk_id not in numbers:
                    numbers[hit.chunk_id] = len(sources) + 1
                    sources.append(hit)
                bullet = "" if q.text[:1] in "-*•▪◦" or q.text[:1].isdigit() else "- "
                lines.append(f"{bullet}{q.text} [{numbers[hit.chunk_id]}]")
        if not sources:
            return None
        report = self.checker.check("\n".join(lines), sources, True)
        return TaskPlan(sources, report) if report.supported else None

    # --- steps and comparisons -------------------------------------------------------------------------------

    def _steps(self, search: _Search, topic: str) -> TaskPlan | None:
        """The list in the best few sources that holds most of the request's (rare) words."""
        hits = search.answerable_hits(topic, search.top_k)
        weights = self._weights(search.collection, topic)
        blocks = [(rank, b) for rank, hit in enumerate(hits) for b in list_blocks(hit.text, rank)
                  if len(b.items) >= 2 or b.reaches_end]  # fmt: skip
        if not blocks:
            return None
        # Words alone mislead ("set up the robot" shares both with "... (app > Settings > Device)" in another list),
        # and so does meaning alone (MiniLM put a safety list closer to "maintaining the robot" than the
        # maintenance list): both must agree.
        query = self.embedder.embed_query(topic)
        similarity = self.embedder.embed_documents([b.text for _, b in blocks]) @ query
        scored = []
        for (rank, block), sim in zip(blocks, similarity, strict=True):
            share, shape = block_score(block, weights, self.analyzer)
            if sim >= MIN_STEP_SIMILARITY and share >= MIN_STEP_COVERAGE:
                scored.append((share + float(sim) + shape - 0.05 * rank, rank, block))
        if not scored:
            return None
        _, rank, block = max(scored, key=lambda entry: entry[0])
        sources, items = list(hits), list(block.items)
        if block.reaches_end:
            self._continue(search.collection, sources, rank, items)
        if len(items) < 2:
            return None
        lead = Quote(block.lead.source, block.lead.start, block.lead.end, block.lead.text) if block.lead else None
        return self._report("", [("", items[:MAX_STEPS])], sources, lead)

    def _continue(self, collection: str, sources: list[SearchHit], rank: int, items: list[Quote]) -> None:
        """Items of the same list in the chunks after (a list cut by a chunk or a page break)."""
        hit = sources[rank]
        chunks = self.keyword.document_chunks(collection, hit.document_id)
        at = next((i for i, c in enumerate(chunks) if c.chunk_id == hit.chunk_id), None)
        if at is None:
            return
        seen = {q.text for q in items}
        for chunk in chunks[at + 1 : at + 4]:
            block: ListBlock | None = continuation(chunk.text, len(sources))
            if block is None:
                return
            sources.append(_hit(chunk))
            items.extend(q for q in block.items if q.text not in seen)
            seen.update(q.text for q in block.items)
            if not block.reaches_end or len(items) >= MAX_STEPS:
                return

    async def _compare(self, search: _Search, task: TaskRequest, max_tokens: int, quote: bool) -> TaskPlan | None:
        sides = [await asyncio.to_thread(search.answerable_hits, side, search.top_k) for side in task.targets]
        if not all(sides):
            return None
        if quote:
            return await asyncio.to_thread(self._quoted_comparison, task.targets, sides)
        merged: dict[str, SearchHit] = {}
        for pair in zip(*sides, strict=False):  # alternate, so both sides keep sources within the budget
            for hit in pair:
                merged.setdefault(hit.chunk_id, hit)
        question = f"Compare {task.targets[0]} and {task.targets[1]}."
        user = answer_user_message(question, [], self.quoter)
        count = self.backend.count_tokens
        fixed = count(ANSWER_SYSTEM) + count(user) + 2 * TEMPLATE_OVERHEAD_TOKENS
        budget = self.backend.context_window - max_tokens - fixed
        if self.context_tokens is not None:
            budget = min(budget, self.context_tokens)
        sources = _within(list(merged.values()), budget, count)
        if not sources:
            return None
        user = answer_user_message(question, sources, self.quoter)
        return TaskPlan(sources, messages=[Message("system", ANSWER_SYSTEM), Message("user", user)])

    def _quoted_comparison(self, labels: tuple[str, ...], sides: list[list[SearchHit]]) -> TaskPlan | None:
        """The sentences that best answer "what is A?" and "what is B?", each side under its label."""
        hits: list[SearchHit] = []
        sections = []
        for label, side in zip(labels, sides, strict=True):
            extracted = self.extractor.answer(label, side)
            if extracted.empty:
                return None
            quotes = []
            for s in extracted.sentences:
                quotes.append(Quote(len(hits), s.start, s.end, s.text))
                hits.append(side[s.n - 1])
            sections.append((label, quotes))
        return self._report("", sections, hits)


@dataclass(frozen=True)
class _Search:
    """One request's retrieval settings, and its answerability gate."""

    answerer: TaskAnswerer
    collection: str
    filters: dict[str, Any] | None
    top_k: int
    rerank: bool

    def answerable_hits(self, query: str, top_k: int) -> list[SearchHit]:
        """The hits for `query`, or none when the gate finds nothing about it in the collection."""
        retrieval = self.answerer.retriever.search(self.collection, query, top_k, self.filters, self.rerank)
        hits = [h for h in retrieval.hits if not flagged(h)]  # text that gives orders is never quoted or prompted
        return hits if hits and self.answerer.answerable(self.collection, query, retrieval) else []


def _anchor(embedder: Embedder, topic: str | None, stored: dict[str, np.ndarray]) -> np.ndarray | None:
    """What a summary stays close to: the topic, or the document's centroid (the mean of its chunk vectors)."""
    if topic is not None:
        return embedder.embed_query(topic)
    return _normalized(np.mean(np.stack(list(stored.values())), axis=0)) if stored else None


def _central(hits: list[SearchHit], stored: dict[str, np.ndarray], anchor: np.ndarray | None) -> list[SearchHit]:
    """The chunks by closeness to the document's centroid, the most central first."""
    if anchor is None:
        return list(hits)
    return sorted(hits, key=lambda h: -float(stored[h.chunk_id] @ anchor) if h.chunk_id in stored else 1.0)


def _within(hits: list[SearchHit], budget: int, count: Callable[[str], int]) -> list[SearchHit]:
    """The first hits that fit `budget` tokens, each with its "[n] (file, page p)" label."""
    kept, used = [], 0
    for hit in hits:
        cost = count(hit.text) + 16
        if used + cost > budget:
            break
        kept.append(hit)
        used += cost
    return kept


def _hit(chunk: Chunk) -> SearchHit:
    meta = chunk.metadata
    return SearchHit(chunk.chunk_id, chunk.document_id, str(meta.get("filename", chunk.document_id)),
                     meta.get("page"), chunk.text, 1.0, meta)  # fmt: skip


def _normalized(vector: np.ndarray) -> np.ndarray:
    return vector / (np.linalg.norm(vector) or 1.0)
