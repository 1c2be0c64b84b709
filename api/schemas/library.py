"""Collections, documents, their chunks and upload jobs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.grammar import CollectionName, DocumentText, Metadata, RequestBody


class CollectionCreate(RequestBody):
    model_config = ConfigDict(extra="forbid")

    name: CollectionName = Field(examples=["handbooks"])
    description: str = Field("", max_length=2000)


class CollectionOut(BaseModel):
    name: str
    description: str
    created_at: str
    documents: int
    chunks: int


class CollectionList(BaseModel):
    collections: list[CollectionOut]


class TextDocument(RequestBody):
    """Raw text to ingest as one document."""

    model_config = ConfigDict(extra="forbid")

    text: DocumentText = Field(
        min_length=1, examples=["Our office opens at 8am."], description="Something besides spaces; no NUL character"
    )
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
    status: str = Field(description="queued | running | done | failed | cancelled (its collection was deleted)")
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
    ocr_pages_done: int = Field(0, description="Scanned pages and images read by OCR so far")
    ocr_pages_total: int = Field(0, description="Pages to read by OCR in the files opened so far")


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
    start_char: int = Field(
        description="Where the chunk starts in its page's text as extracted: Markdown rendered to plain text,"
        " a PDF page without its running header/footer and page number (not a position in the original file)"
    )
    end_char: int
    text: str
    instructions: bool = Field(False, description="The passage addresses an AI or gives it orders")
    instructions_reason: str | None = None


class ChunkPage(BaseModel):
    chunks: list[ChunkOut]
    total: int
    limit: int
    offset: int
