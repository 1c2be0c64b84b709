"""Synced sources of a collection: what to add, and each source's status."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.grammar import INTEGRAL, RequestBody
from ingest.connectors import connector_kinds


def _known_kinds(schema: dict[str, Any]) -> None:
    """The kinds this server knows (built-ins and installed plugins), read when the OpenAPI document is built."""
    schema["enum"] = connector_kinds()


class SourceOptions(RequestBody):
    model_config = ConfigDict(extra="forbid")

    include: list[str] = Field(default_factory=list, description="Glob patterns an item's path must match (any)")
    exclude: list[str] = Field(default_factory=list, description="Glob patterns of items to leave out")
    delete_on_remove: bool = Field(True, description="Remove a document when its item leaves the source")
    max_items: Annotated[int, Field(ge=1, le=1_000_000_000), INTEGRAL] | None = Field(
        None, description="Sync at most this many items (the first by path)"
    )
    branch: str | None = Field(None, description="git: the branch (default: the repository's HEAD)")
    subfolder: str | None = Field(None, description="git: only the files under this folder")
    prefix: str | None = Field(
        None, description="web: only pages under this path (default: the start URL's folder)", examples=["/docs/"]
    )
    endpoint_url: str | None = Field(
        None, description="s3: an S3-compatible store's URL (default: AWS)", examples=["https://minio.example.org"]
    )
    region: str | None = Field(None, description="s3: the bucket's region")
    profile: str | None = Field(None, description="s3: the AWS profile whose credentials the server uses")


class SourceCreate(RequestBody):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(
        examples=["folder"],
        description="folder | git | web | s3 | a connector plugin's name",
        json_schema_extra=_known_kinds,
    )
    location: str = Field(
        min_length=1,
        max_length=4096,
        examples=["/srv/shared/handbooks"],
        description="folder: a path; git: a path or URL; web: a start page or sitemap URL; s3: s3://bucket/prefix",
    )
    options: SourceOptions = Field(default_factory=SourceOptions)
    every_s: float | None = Field(None, ge=1, description="Sync every this many seconds; unset: only when asked")


class SourceCounts(BaseModel):
    added: int
    changed: int
    removed: int
    unchanged: int
    failed: int


class SourceOut(BaseModel):
    id: str = Field(examples=["src-3f9a2c1d7e4b"])
    collection: str
    kind: str
    location: str
    options: dict[str, Any]
    every_s: float | None
    next_run_at: float | None = Field(description="Unix time of the next scheduled sync")
    last_sync_at: str | None
    last_status: str | None = Field(description="done | failed, of the last sync")
    last_error: str | None = Field(description="Why the last sync failed, or which items failed and why")
    counts: SourceCounts = Field(description="Of the last sync")
    synced_at: str | None = Field(None, description="What the last sync read: a git commit")
    job_id: str | None = Field(None, description="The latest sync job (follow it at /v1/jobs/{id})")
    job_status: str | None = Field(None, description="queued | running | done | failed | cancelled")
    created_at: str


class SourceList(BaseModel):
    sources: list[SourceOut]


class SyncAccepted(BaseModel):
    job_id: str
    status: str
