"""The OpenAI-compatible routes: chat completions, models, legacy text completions and embeddings, as this
service speaks them (plus our RAG fields)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.answers import MaxTokens, RetrievalSpec, SamplingFields, Source, Verification
from api.schemas.common import UsageModel
from api.schemas.grammar import INTEGRAL, JsonInt, NotBlank, RequestBody

MAX_EMBEDDING_INPUTS = 2048  # OpenAI's own limit per request
# Rules of api.routes.chat.parse_request that JSON Schema can state (it answers 400 when they are broken).
_CHAT_RULES: dict[str, Any] = {
    "allOf": [
        {  # no n > 1 with stream
            "if": {"required": ["stream"], "properties": {"stream": {"const": True}}},
            "then": {"properties": {"n": {"maximum": 1}}},
        },
        {  # JSON output only without retrieval: a grounded answer is cited prose
            "not": {
                "required": ["response_format"],
                "properties": {
                    "use_context": {"const": True},
                    "response_format": {
                        "type": "object",
                        "required": ["type"],
                        "properties": {"type": {"enum": ["json_object", "json_schema"]}},
                    },
                },
            }
        },
    ]
}


class ContentPart(RequestBody):
    type: str = Field(json_schema_extra={"enum": ["text"]})  # others are refused by the route, with a reason
    text: str | None = None


class ChatMessageIn(RequestBody):
    role: str = Field(json_schema_extra={"enum": ["system", "user", "assistant"]})
    content: str | list[ContentPart] | None = None


class ChatRequest(SamplingFields):
    """OpenAI's chat completions request, plus `collection`, `use_context` and `retrieval`."""

    # OpenAI clients send fields we do not use (user, logprobs...)
    model_config = ConfigDict(extra="ignore", json_schema_extra=_CHAT_RULES)

    messages: list[ChatMessageIn] = Field(
        min_length=1, max_length=256, description="At most 256 messages; the last one must come from the user"
    )
    model: str | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    n: JsonInt = Field(1, ge=1, le=8)
    response_format: dict[str, Any] | None = None
    max_completion_tokens: MaxTokens | None = None
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

    prompt: NotBlank | Annotated[list[NotBlank], Field(json_schema_extra={"minItems": 1, "maxItems": 1})] = Field(
        examples=["How many days of annual leave do full-time employees get?"],
        description="One prompt per request (as a string, or a list of one)",
    )
    model: str | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    n: JsonInt = Field(1, ge=1, le=8)
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


def _strings_only(schema: dict[str, Any]) -> None:
    strings = {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": MAX_EMBEDDING_INPUTS}
    schema["anyOf"] = [{"type": "string"}, strings]


class EmbeddingRequest(RequestBody):
    model_config = ConfigDict(extra="ignore")  # `user`

    # Token arrays parse, to be refused with a reason (api.routes.embeddings); the schema offers strings only.
    input: str | list[str] | list[int] | list[list[int]] = Field(
        examples=[["first text", "second text"]],
        description=f"A string or 1-{MAX_EMBEDDING_INPUTS} strings; token arrays are refused (400)",
        json_schema_extra=_strings_only,
    )
    model: str | None = None
    encoding_format: str = Field("float", pattern="^(float|base64)$")
    dimensions: Annotated[int, Field(ge=1), INTEGRAL] | None = Field(
        None, description="Only the embedder's own dimension"
    )


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


def document_dimensions(document: dict[str, Any], dimension: int) -> None:
    """`dimensions` as the running embedder allows it: its own dimension, or none (else 400)."""
    pinned = {"type": "integer", "minimum": dimension, "maximum": dimension}
    request = document["components"]["schemas"]["EmbeddingRequest"]
    request["properties"]["dimensions"]["anyOf"] = [pinned, {"type": "null"}]
