"""Summaries of any length: one call when the text fits the context window, map-reduce when it does not.

Map: each piece that fits is condensed to its facts (keeping what the user's instruction asks for).
Reduce: the notes are combined in batches that fit, recursively, until one batch is left; the
user's instruction shapes only that final step, which is also the one that streams.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from rag.answering.prompts import (  # fmt: skip
    SUMMARY_CITE,
    SUMMARY_COMBINE_USER,
    SUMMARY_DEFAULT_INSTRUCTION,
    SUMMARY_MAP_USER,
    SUMMARY_SYSTEM,
    SUMMARY_USER,
    TEMPLATE_OVERHEAD_TOKENS,
    summary_user,
)
from rag.answering.quoting import quoter_for
from rag.backends.base import ChatBackend, Delta, Message, SamplingParams, Usage
from rag.errors import InvalidInput
from rag.types import Chunk, SearchHit

NOTES_TOKENS = 160  # length of each intermediate summary
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Unit:
    """A piece of the input with where it came from, so the summary can say what it covered."""

    text: str
    document_id: str | None = None
    filename: str | None = None
    page: int | None = None
    chunk_id: str | None = None


@dataclass
class SummaryPlan:
    """The prompt of the final step, and what the steps before it cost."""

    messages: list[Message]
    model_calls: int = 0
    usage: Usage = field(default_factory=Usage)


def pack(atoms: Sequence[str], budget: int, count: Callable[[str], int], joiner: str = " ") -> list[str]:
    """Greedily pack atoms (sentences or words) into pieces of at most `budget` tokens."""
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for atom in atoms:
        cost = count(atom) + 1
        if used + cost > budget and current:
            pieces.append(joiner.join(current))
            current, used = [], 0
        current.append(atom)
        used += cost
    if current:
        pieces.append(joiner.join(current))
    return pieces


def split_to_fit(text: str, budget: int, count: Callable[[str], int]) -> list[str]:
    """Pieces of at most `budget` tokens, cut between sentences, or between words inside a huge sentence."""
    atoms: list[str] = []
    for sentence in (s.strip() for s in _SENTENCE_END.split(text) if s.strip()):
        atoms.extend([sentence] if count(sentence) < budget else pack(sentence.split(), budget - 1, count))
    return pack(atoms, budget, count)


class Summarizer:
    def __init__(self, backend: ChatBackend) -> None:
        self.backend = backend
        self.quoter = quoter_for(backend)

    def _input_budget(self, prompt_template: str, output_tokens: int) -> int:
        count = self.backend.count_tokens
        fixed = count(SUMMARY_SYSTEM) + count(prompt_template) + 2 * TEMPLATE_OVERHEAD_TOKENS
        budget = self.backend.context_window - output_tokens - fixed
        if budget < 64:
            raise InvalidInput(
                f"max_tokens ({output_tokens}) leaves no room for text"
                f" in the {self.backend.context_window}-token context window"
            )
        return budget

    async def plan(
        self, units: Sequence[Unit], instruction: str | None, params: SamplingParams, cite: bool = False
    ) -> SummaryPlan:
        """Run the map and reduce steps needed until the rest fits one final prompt."""
        if not any(u.text.strip() for u in units):
            raise InvalidInput("nothing to summarize: the text is empty")
        instruction = (instruction or "").strip() or SUMMARY_DEFAULT_INSTRUCTION
        plan = SummaryPlan([])
        if cite:
            instruction += " " + SUMMARY_CITE
        final_budget = self._input_budget(SUMMARY_USER + instruction, params.max_tokens)
        body = self._numbered(units) if cite else "\n\n".join(u.text for u in units)
        level = 0
        while self.backend.count_tokens(body) > final_budget:
            template = SUMMARY_MAP_USER if level == 0 else SUMMARY_COMBINE_USER
            piece_budget = self._input_budget(template + instruction, NOTES_TOKENS)
            pieces = split_to_fit(body, piece_budget, self.backend.count_tokens)
            notes = [await self._condense(template, piece, instruction, params, plan) for piece in pieces]
            body = "\n\n".join(notes)
            level += 1
        user = summary_user(SUMMARY_USER, body, instruction, self.quoter)
        plan.messages = [Message("system", SUMMARY_SYSTEM), Message("user", user)]
        return plan

    async def _condense(
        self, template: str, piece: str, instruction: str, params: SamplingParams, plan: SummaryPlan
    ) -> str:
        user = summary_user(template, piece, instruction, self.quoter)
        step = SamplingParams(max_tokens=NOTES_TOKENS, temperature=params.temperature, seed=params.seed)
        completion = await self.backend.complete([Message("system", SUMMARY_SYSTEM), Message("user", user)], step)
        plan.model_calls += 1
        plan.usage = Usage(
            plan.usage.prompt_tokens + completion.usage.prompt_tokens,
            plan.usage.completion_tokens + completion.usage.completion_tokens,
        )
        return completion.text.strip() or piece[:500]

    @staticmethod
    def _numbered(units: Sequence[Unit]) -> str:
        parts = []
        for n, unit in enumerate(units, start=1):
            where = f"{unit.filename}, page {unit.page}" if unit.page is not None else (unit.filename or "text")
            parts.append(f"[{n}] ({where})\n{unit.text}")
        return "\n\n".join(parts)

    async def stream(self, plan: SummaryPlan, params: SamplingParams) -> AsyncIterator[Delta]:
        """The final step, streamed; its usage includes every earlier step."""
        async for delta in self.backend.stream(plan.messages, params):
            if delta.finish_reason:
                final = delta.usage or Usage()
                delta.usage = Usage(
                    final.prompt_tokens + plan.usage.prompt_tokens,
                    final.completion_tokens + plan.usage.completion_tokens,
                )
            yield delta


def document_units(chunks: Sequence[Chunk]) -> list[Unit]:
    return [Unit(c.text, c.document_id, c.metadata.get("filename"), c.metadata.get("page"), c.chunk_id) for c in chunks]


def hit_units(hits: Sequence[SearchHit]) -> list[Unit]:
    return [Unit(h.text, h.document_id, h.filename, h.page, h.chunk_id) for h in hits]


@dataclass
class CoveredSource:
    """What a summary covered: a document's pages and chunks, or (numbered) one retrieved chunk."""

    document_id: str
    filename: str
    pages: list[int]
    chunk_ids: list[str]
    n: int | None = None


def covered(units: Sequence[Unit], numbered: bool) -> list[CoveredSource]:
    if numbered:
        return [
            CoveredSource(u.document_id or "", u.filename or "", [u.page] if u.page else [], [u.chunk_id or ""], n)
            for n, u in enumerate(units, start=1)
        ]
    by_document: dict[str, CoveredSource] = {}
    for u in units:
        if u.document_id is None:
            continue
        source = by_document.setdefault(u.document_id, CoveredSource(u.document_id, u.filename or "", [], []))
        if u.page is not None and u.page not in source.pages:
            source.pages.append(u.page)
        source.chunk_ids.append(u.chunk_id or "")
    return list(by_document.values())
