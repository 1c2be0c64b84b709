"""Request and response models: what /docs shows is the real contract."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from rag import validation as grammar
from rag.backends.base import SamplingParams
from rag.errors import InvalidInput

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8000)]


def _checked(check: Any) -> AfterValidator:
    """Run a rag.validation check inside validation, so a bad value is the route's 4xx like any other."""

    def validate(value: Any) -> Any:
        try:
            return check(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from exc

    return AfterValidator(validate)


# rag.validation checks the values as they came (10**30 stays an int, to be refused, not a float); the
# JSON schemas below document the same grammar.
_SCALARS: list[dict[str, Any]] = [
    {"type": "string", "maxLength": grammar.MAX_STRING_VALUE},
    {"type": "integer", "minimum": grammar.INT64_MIN, "maximum": grammar.INT64_MAX},
    {"type": "number"},
    {"type": "boolean"},
]
_LISTS = [{"type": "array", "items": s, "minItems": 1, "maxItems": grammar.MAX_FILTER_VALUES} for s in _SCALARS]
_KEYS = {"type": "object", "propertyNames": {"pattern": grammar.KEY_PATTERN}}
FILTERS_SCHEMA = {
    **_KEYS,
    "maxProperties": grammar.MAX_FILTER_KEYS,
    "additionalProperties": {"anyOf": [*_SCALARS, *_LISTS]},
    "description": f"Match chunk metadata: {grammar.GRAMMAR}",
}
Filters = Annotated[dict[str, Any], WithJsonSchema(FILTERS_SCHEMA), _checked(grammar.check_filters)]
METADATA_SCHEMA = {**_KEYS, "additionalProperties": {"anyOf": _SCALARS}}
Metadata = Annotated[dict[str, Any], WithJsonSchema(METADATA_SCHEMA), _checked(grammar.check_metadata)]
StopSequence = Annotated[str, StringConstraints(max_length=256)]


class ErrorBody(BaseModel):
    code: int | str = Field(examples=[404], description="The HTTP status, or OpenAI's code where it has one")
    message: str = Field(examples=["collection 'hr' not found"])
    traceId: str = Field(examples=["4bf92f3577b34da6a3ce929d0e0e4736"])
    type: str = Field(examples=["not_found_error"], description="OpenAI's error type")
    param: str | None = Field(None, description="The request field at fault, when known")


class ErrorResponse(BaseModel):
    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 413, 422, 500, 502, 504)
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}}}
# The routes that call the chat model: its queue can be full (429), the backend can ask for a pause (503).
QUEUE_RESPONSES: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorResponse, "description": "The chat model's queue is full", "headers": _RETRY_AFTER},
    503: {"model": ErrorResponse, "description": "The chat backend asked to come back later", "headers": _RETRY_AFTER},
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """ERROR_RESPONSES plus the statuses only some routes answer (409, 413, 415, ...)."""
    return {**ERROR_RESPONSES, **{code: {"model": ErrorResponse} for code in codes}}


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: NonEmpty = Field(examples=["How many days of annual leave do I get?"])
    collection: str = Field(examples=["sample"])
    top_k: int = Field(5, ge=1, le=50)
    filters: Filters | None = Field(None, description="document_id, filename or any metadata key; a list = any of")
    rerank: bool = True


class SearchResult(BaseModel):
    chunk_id: str
    document_id: str
    filename: str
    page: int | None
    text: str
    score: float


class SearchResponse(BaseModel):
    results: list[SearchResult]


class RetrievalSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    top_k: int = Field(5, ge=1, le=50)
    filters: Filters | None = None
    rerank: bool = True


class SamplingFields(BaseModel):
    """The sampling parameters of the Llama chat APIs, with their documented ranges."""

    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: int | None = Field(None, ge=0, lt=1000)
    min_p: float | None = Field(None, ge=0, le=1)
    max_tokens: int | None = Field(None, ge=1, le=1_000_000)
    stop: StopSequence | Annotated[list[StopSequence], Field(max_length=16)] | None = Field(
        None, description="Up to 16 stop sequences of at most 256 characters"
    )
    seed: int | None = Field(None, ge=0, lt=2**63)
    repetition_penalty: float | None = Field(None, ge=0.01, le=5)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)

    def sampling(self, default_max_tokens: int, response_format: dict[str, Any] | None = None) -> SamplingParams:
        stop = [self.stop] if isinstance(self.stop, str) else self.stop
        return SamplingParams(
            max_tokens=self.max_tokens or default_max_tokens, temperature=self.temperature, top_p=self.top_p,
            top_k=self.top_k, min_p=self.min_p, stop=stop, seed=self.seed,
            repetition_penalty=self.repetition_penalty, presence_penalty=self.presence_penalty,
            frequency_penalty=self.frequency_penalty, response_format=response_format,
        )  # fmt: skip


class QueryRequest(SamplingFields):
    model_config = ConfigDict(extra="forbid")

    question: NonEmpty = Field(examples=["What does error E09 mean?"])
    collection: str = Field(examples=["sample"])
    retrieval: RetrievalSpec = Field(default_factory=RetrievalSpec)
    stream: bool = False


class Source(SearchResult):
    n: int = Field(description="The number the answer cites as [n]")


class UsageModel(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class CitationOut(BaseModel):
    """One answer sentence and the source passage that supports it."""

    start: int = Field(description="Start of the sentence in the answer text (characters)")
    end: int
    n: int = Field(description="The source it cites, as in sources[].n")
    chunk_id: str
    page: int | None
    quote_start: int = Field(description="Start of the supporting quote in the source's text")
    quote_end: int
    quote: str
    score: float = Field(description="Support score, 0-1")


class UnsupportedOut(BaseModel):
    start: int
    end: int
    text: str


class Verification(BaseModel):
    """What the checker found: per-sentence citations, unsupported sentences, and the answer's grounding."""

    citations: list[CitationOut] = Field(default_factory=list)
    unsupported: list[UnsupportedOut] = Field(default_factory=list)
    grounded: float | None = Field(None, description="Share of the answer's sentences that its sources support")
    abstain_reason: str | None = Field(None, description="no_relevant_sources | unsupported_answer")
    related: list[Source] = Field(default_factory=list, description="The closest sources, when abstaining")
    mode: str = Field("generate", description="generate | extract | overview | abstain")


class QueryResponse(Verification):
    id: str
    answer: str
    sources: list[Source]
    abstained: bool
    usage: UsageModel
    model: str
    finish_reason: str


class HealthResponse(BaseModel):
    status: str = Field(examples=["ok"])
    store: bool
    embedder: bool
    backend: bool
    backend_name: str
    model: str
    generation: dict[str, int] = Field(
        default_factory=dict, description="The chat model's queue: running, waiting, tickets, concurrency, depth"
    )


class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(examples=["handbooks"])
    description: str = Field("", max_length=2000)


class CollectionOut(BaseModel):
    name: str
    description: str
    created_at: str
    documents: int
    chunks: int


class CollectionList(BaseModel):
    collections: list[CollectionOut]


class TextDocument(BaseModel):
    """Raw text to ingest as one document."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, examples=["Our office opens at 8am."])
    filename: str = Field("text.txt", min_length=1, max_length=255)
    document_id: str | None = Field(None, min_length=1, max_length=512)
    metadata: Metadata = Field(default_factory=dict)


class FileResultOut(BaseModel):
    filename: str
    document_id: str
    status: str = Field(description="ingested | unchanged | failed")
    chunks: int
    pages: int | None
    reason: str | None = None
    status_code: int | None = Field(None, description="HTTP status of a failure (415 unsupported type, ...)")


class UploadResult(BaseModel):
    results: list[FileResultOut]


class JobAccepted(BaseModel):
    job_id: str
    status: str
    files_total: int


class JobOut(BaseModel):
    id: str
    collection: str
    status: str = Field(description="queued | running | done | failed")
    files_total: int
    files_done: int
    chunks_done: int
    failures: list[FileResultOut]
    results: list[FileResultOut]
    error: str | None
    created_at: str
    updated_at: str
    worker: str | None = Field(None, description="The runner holding (or that last held) the job: host-pid-id")
    takeovers: int = Field(0, description="Times another runner took the job over after its runner went silent")


class DocumentOut(BaseModel):
    document_id: str
    collection: str
    filename: str
    size: int
    sha256: str
    status: str
    chunk_count: int
    pages: int | None
    metadata: dict[str, Any]
    created_at: str
    updated_at: str


class DocumentPage(BaseModel):
    documents: list[DocumentOut]
    total: int
    limit: int
    offset: int


class ChunkOut(BaseModel):
    chunk_id: str
    chunk_index: int
    page: int | None
    start_char: int
    end_char: int
    text: str


class ChunkPage(BaseModel):
    chunks: list[ChunkOut]
    total: int
    limit: int
    offset: int


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


def _one_source(given: str, *others: str, needs: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON-schema branch: `given` (and `needs`) set, the other sources absent or null."""
    properties = {given: {"type": "string"}, **{n: {"type": "string"} for n in needs}}
    return {"required": [given, *needs], "properties": {**properties, **{o: {"type": "null"} for o in others}}}


class SummarizeRequest(SamplingFields):
    """Exactly one source: `text`, `document_id` with `collection`, or `topic` with `collection` (else 400)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                _one_source("text", "document_id", "topic"),
                _one_source("document_id", "text", "topic", needs=("collection",)),
                _one_source("topic", "text", "document_id", needs=("collection",)),
            ]
        },
    )

    text: str | None = Field(None, description="Raw text to summarize")
    document_id: str | None = Field(None, description="A stored document (with `collection`)")
    collection: str | None = None
    topic: str | None = Field(None, description="What the collection says about this (with `collection`)")
    instruction: str | None = Field(None, max_length=2000, examples=["3 bullet points focusing on the solutions"])
    top_k: int = Field(8, ge=1, le=50, description="Chunks retrieved for a topic summary")
    stream: bool = False


class CoveredSourceOut(BaseModel):
    n: int | None = Field(None, description="For topic summaries: the number cited as [n]")
    document_id: str
    filename: str
    pages: list[int]
    chunk_ids: list[str]


class SummarizeResponse(BaseModel):
    summary: str
    sources: list[CoveredSourceOut]
    usage: UsageModel
    model: str
    finish_reason: str
    model_calls: int
