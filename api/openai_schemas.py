"""OpenAI's legacy text completions and embeddings, as this service speaks them (plus our RAG fields)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import RetrievalSpec, SamplingFields, Source, UsageModel, Verification


class CompletionRequest(SamplingFields):
    """OpenAI's `/v1/completions` request: the prompt is answered like a one-message chat."""

    model_config = ConfigDict(extra="ignore")  # OpenAI clients send fields we do not use (logprobs, echo...)

    prompt: str | list[str] = Field(examples=["How many days of annual leave do full-time employees get?"])
    model: str | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    n: int = Field(1, ge=1, le=8)
    collection: str | None = Field(None, description="Defaults to RAG_DEFAULT_COLLECTION")
    use_context: bool = Field(True, description="false: a plain completion by the backend, no retrieval")
    retrieval: RetrievalSpec = Field(default_factory=RetrievalSpec)
    citations_in_content: bool | None = Field(None, description="End the text with a 'Sources:' block")


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: None = None
    finish_reason: str


class TextCompletion(BaseModel):
    id: str
    object: str = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: UsageModel
    sources: list[Source]
    verification: Verification | None = None


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # `user`

    input: str | list[str] | list[int] | list[list[int]] = Field(examples=[["first text", "second text"]])
    model: str | None = None
    encoding_format: str = Field("float", pattern="^(float|base64)$")
    dimensions: int | None = Field(None, ge=1)


class EmbeddingItem(BaseModel):
    object: str = "embedding"
    index: int
    embedding: list[float] | str = Field(description="Floats, or base64 little-endian float32 when asked")


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    object: str = "list"
    data: list[EmbeddingItem]
    model: str
    usage: EmbeddingUsage
