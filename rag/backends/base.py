"""The chat backend seam: one small protocol, plain data in and out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class SamplingParams:
    """The sampling parameters of the Llama chat APIs; None means the backend's default."""

    max_tokens: int = 256
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    response_format: dict[str, Any] | None = None  # e.g. {"type": "json_object"}

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass
class Completion:
    text: str
    finish_reason: str
    model: str
    usage: Usage = field(default_factory=Usage)


@dataclass
class Delta:
    """One streamed piece: text, and on the last piece the finish reason and usage."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None


class ChatBackend(Protocol):
    model: str
    context_window: int

    async def complete(self, messages: list[Message], params: SamplingParams) -> Completion: ...

    def stream(self, messages: list[Message], params: SamplingParams) -> AsyncIterator[Delta]: ...

    def count_tokens(self, text: str) -> int: ...

    async def health(self) -> bool: ...


def estimate_tokens(text: str) -> int:
    """Upper-bound guess for remote models whose tokenizer we do not have (~3 characters a token)."""
    return len(text) // 3 + 1


def messages_as_dicts(messages: list[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]
