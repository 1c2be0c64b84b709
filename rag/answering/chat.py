"""Multi-turn chat grounded in a collection: history trimmed to a token budget, follow-ups made standalone.

Follow-up questions ("Tell me more about the second method") are resolved without calling the model:
a tiny model rewrites them badly, and a rule that reads the previous answer's enumeration is
predictable and testable. Ordinals pick the n-th item the assistant listed (numbered or bulleted
lines, quoted names, or First/Next/Finally sentences); short or pronoun-led follow-ups carry the
previous question along.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from rag.answering.prompts import TEMPLATE_OVERHEAD_TOKENS, answer_system, answer_user_message
from rag.answering.service import AnswerService, PreparedAnswer, RetrievalOptions
from rag.answering.tasks import read_task
from rag.backends.base import Message
from rag.errors import InvalidInput

ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
            "fifth": 5, "5th": 5, "last": -1, "final": -1}  # fmt: skip
_ORDINAL = re.compile(r"\b(" + "|".join(ORDINALS) + r")\b", re.IGNORECASE)
_LIST_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"[\"“]([^\"”]{2,80}?)[.,!?]?[\"”]")
_SEQUENCE = re.compile(r"(?:^|[.!?]\s+)((?:First|Firstly|Second|Secondly|Next|Then|Third|Finally|Lastly)\b[^.!?]*)")
_ANAPHORA = re.compile(r"\b(it|its|that|this|they|them|those|these|he|she|his|her|more|else|also)\b", re.IGNORECASE)


def enumerated_items(text: str) -> list[str]:
    """The things an answer listed, in order, as a reader would count them."""
    for pattern in (_LIST_ITEM, _QUOTED, _SEQUENCE):
        items = [m.strip() for m in pattern.findall(text)]
        if len(items) >= 2:
            return items
    return []


def standalone_query(messages: list[Message]) -> str:
    """The retrieval query for the last user message, with references to earlier turns resolved."""
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    if not users:
        raise InvalidInput("messages must contain at least one user message")
    last = messages[users[-1]].content.strip()
    earlier = messages[: users[-1]]
    previous_answer = next((m.content for m in reversed(earlier) if m.role == "assistant"), "")
    ordinal = _ORDINAL.search(last)
    items = enumerated_items(previous_answer) if ordinal else []
    if ordinal and items:
        n = ORDINALS[ordinal.group(1).lower()]
        if n <= len(items):
            return f"{items[n - 1] if n > 0 else items[-1]} {last}"
    previous_question = next((m.content for m in reversed(earlier) if m.role == "user"), "")
    if previous_question and (len(last.split()) < 6 or _ANAPHORA.search(last)):
        return f"{previous_question} {last}"
    return last


def trim_history(messages: list[Message], budget: int, count_tokens: Callable[[str], int]) -> list[Message]:
    """Drop the oldest turns until the conversation fits `budget` tokens; system messages always stay."""
    cost = [count_tokens(m.content) + TEMPLATE_OVERHEAD_TOKENS for m in messages]
    keep = [True] * len(messages)
    total = sum(cost)
    last_user = max(i for i, m in enumerate(messages) if m.role == "user")
    for i, message in enumerate(messages):
        if total <= budget:
            break
        if message.role != "system" and i != last_user:
            keep[i] = False
            total -= cost[i]
    if total > budget:
        raise InvalidInput("the conversation's system messages and last question do not fit the context window")
    return [m for m, k in zip(messages, keep, strict=True) if k]


@dataclass
class PreparedChat:
    messages: list[Message]
    answer: PreparedAnswer | None  # None for a plain pass-through chat

    def grounded(self) -> PreparedAnswer | None:
        """The answer to generate and verify, with the whole conversation as its messages."""
        if self.answer is None or not self.messages:
            return self.answer
        return replace(self.answer, messages=self.messages)


class ChatService:
    def __init__(self, answers: AnswerService) -> None:
        self.answers = answers
        self.backend = answers.backend
        self.quoter = answers.quoter

    async def prepare(
        self,
        messages: list[Message],
        collection: str | None,
        options: RetrievalOptions,
        max_tokens: int,
        use_context: bool = True,
    ) -> PreparedChat:
        query = standalone_query(messages)  # also checks there is a user message
        last_said = [m for m in messages if m.role == "user"][-1].content.strip()
        if read_task(last_said) is not None:  # "summarize the handbook" names its own subject: nothing to carry over
            query = last_said
        budget = self.backend.context_window - max_tokens
        if not use_context or collection is None:
            return PreparedChat(trim_history(self._quoted(messages), budget, self.backend.count_tokens), None)
        *history, last = [m for m in messages if m.role != "system"]
        # Leave room for some history beside the retrieved context; trim_history drops what still does not fit.
        history_tokens = sum(self.backend.count_tokens(m.content) for m in history)
        reserve = min(history_tokens, self.backend.context_window // 4)
        standalone = query == last.content.strip()
        prepared = await self.answers.prepare(query, collection, options, max_tokens + reserve, judge=standalone)
        if prepared.abstained or prepared.mode in ("overview", "extract", "task") or prepared.task:
            return PreparedChat([], prepared)  # answered without the conversation (a task: with its own prompt)
        instructions = "\n".join(m.content for m in messages if m.role == "system")
        system = answer_system(instructions, self.quoter)
        grounded = Message("user", answer_user_message(last.content, prepared.sources, self.quoter))
        turns = [Message("system", system), *self._quoted(history), grounded]
        return PreparedChat(trim_history(turns, budget, self.backend.count_tokens), prepared)

    def _quoted(self, messages: list[Message]) -> list[Message]:
        """A client's messages are text too: none of them may open a turn of its own in the prompt."""
        return [Message(m.role, self.quoter.quote(m.content)) for m in messages]
