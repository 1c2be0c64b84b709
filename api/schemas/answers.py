"""Search and answers: /v1/search and /v1/query, the sampling parameters and the cited sources they share."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from api.schemas.common import UsageModel
from api.schemas.grammar import INT64, INTEGRAL, Filters, JsonInt, RequestBody, Trimmed
from rag.backends.base import SamplingParams

NonEmpty = Annotated[Trimmed, StringConstraints(max_length=8000)]
StopSequence = Annotated[str, StringConstraints(max_length=256)]
MaxTokens = Annotated[int, Field(ge=1, le=1_000_000), INTEGRAL]
Seed = Annotated[int, Field(ge=0, lt=2**63), INTEGRAL, WithJsonSchema({**INT64, "minimum": 0})]


class SearchRequest(RequestBody):
    model_config = ConfigDict(extra="forbid")

    query: NonEmpty = Field(examples=["How many days of annual leave do I get?"])
    collection: str = Field(examples=["sample"])
    top_k: JsonInt = Field(5, ge=1, le=50)
    filters: Filters | None = Field(None, description="document_id, filename or any metadata key; a list = any of")
    rerank: bool = True


class SearchResult(BaseModel):
    chunk_id: str
    document_id: str
    filename: str
    page: int | None
    text: str
    score: float
    section: str | None = Field(
        None,
        examples=["Chapter 3 > 3.2. Systemd init"],
        description="The headings the passage sits under, outermost first",
    )
    origin: str | None = Field(
        None, description="Where the original lives, for a document from a synced source: a path, URL or git permalink"
    )
    instructions: bool = Field(
        False,
        description="The passage addresses an AI or gives it orders (flagged at ingestion): answers never use it",
    )
    instructions_reason: str | None = Field(
        None, examples=["overrides instructions"], description="Why it was flagged, when it was"
    )


class SearchResponse(BaseModel):
    results: list[SearchResult]


class RetrievalSpec(RequestBody):
    model_config = ConfigDict(extra="forbid")

    top_k: JsonInt = Field(5, ge=1, le=50)
    filters: Filters | None = None
    rerank: bool = True


class SamplingFields(RequestBody):
    """The sampling parameters of the Llama chat APIs, with their documented ranges."""

    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: Annotated[int, Field(ge=0, lt=1000), INTEGRAL] | None = None
    min_p: float | None = Field(None, ge=0, le=1)
    max_tokens: MaxTokens | None = None
    stop: StopSequence | Annotated[list[StopSequence], Field(max_length=16)] | None = Field(
        None, description="Up to 16 stop sequences of at most 256 characters"
    )
    seed: Seed | None = None
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
    section: str | None = Field(None, description="The headings the cited passage sits under, outermost first")


class UnsupportedOut(BaseModel):
    start: int
    end: int
    text: str


class Verification(BaseModel):
    """What the checker found: per-sentence citations, unsupported sentences, and the answer's grounding."""

    citations: list[CitationOut] = Field(default_factory=list)
    unsupported: list[UnsupportedOut] = Field(default_factory=list)
    grounded: float | None = Field(None, description="Share of the answer's sentences that its sources support")
    abstain_reason: str | None = Field(
        None, description="no_relevant_sources | no_answer_in_sources | unsupported_answer"
    )
    related: list[Source] = Field(default_factory=list, description="The closest sources, when abstaining")
    mode: str = Field("generate", description="generate | extract | overview | task | abstain")


class QueryResponse(Verification):
    id: str
    answer: str
    sources: list[Source]
    abstained: bool
    usage: UsageModel
    model: str
    finish_reason: str
