"""The OpenAI-compatible routes: chat completions, models, legacy text completions and embeddings, as this
service speaks them (plus our RAG fields)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.answers import RetrievalSpec, SamplingFields, Source, Verification
from api.schemas.common import UsageModel


class ContentPart(BaseModel):
    type: str = Field(json_schema_extra={"enum": ["text"]})  # others are refused by the route, with a reason
    text: str | None = None


class ChatMessageIn(BaseModel):
    role: str = Field(json_schema_extra={"enum": ["system", "user", "assistant"]})
    content: str | list[ContentPart] | None = None


class ChatRequest(SamplingFields):
    """OpenAI's chat completions request, plus `collection`, `use_context` and `retrieval`."""

    model_config = ConfigDict(extra="ignore")  # OpenAI clients send fields we do not use (user, logprobs...)

    messages: list[ChatMessageIn] = Field(min_length=1, max_length=256, description="At most 256 messages")
    model: str | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    n: int = Field(1, ge=1, le=8)
    response_format: dict[str, Any] | None = None
    max_completion_tokens: int | None = Field(None, ge=1, le=1_000_000)
    collection: str | None = Field(None, description="Defaults to RAG_DEFAULT_COLLECTION")
    use_context: bool = Field(True, description="false: a plain chat with the backend, no retrieval")
    retrieval: RetrievalSpec = Field(default_factory=RetrievalSpec)
    citations_in_content: bool | None = Field(
        None, description="End the content with a 'Sources:' block; default RAG_CITATIONS_IN_CONTENT"
    )


class UrlCitation(BaseModel):
    start_index: int = Field(description="Start of the cited sentence in the content (characters)")
    end_index: int
    url: str = Field(description="This service's URL of the cited chunk")
    title: str = Field(examples=["[1] handbook.pdf, p. 3"])


class Annotation(BaseModel):
    type: str = "url_citation"
    url_citation: UrlCitation


class ChatChoiceMessage(BaseModel):
    role: str = "assistant"
    content: str
    annotations: list[Annotation] = Field(default_factory=list, description="OpenAI's url_citation annotations")


class ChatChoice(BaseModel):
    index: int
    message: ChatChoiceMessage
    finish_reason: str


class ChatCompletion(BaseModel):
    id: str
    object: str = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: UsageModel
    sources: list[Source]
    verification: Verification | None = Field(None, description="The first choice's citations, when grounded")


class ModelCard(BaseModel):
    id: str
    object: str = "model"
    created: int
    owned_by: str = "rag-service"


class ModelList(BaseModel):
    object: str = "list"
    data: list[ModelCard]


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
