"""Uploads through the HTTP API: small ones are ingested at once, bigger ones become a job (ingest/jobs/runners.py).

A server started without ingestion (`rag serve --no-ingest`) makes every upload a job, for `rag worker`.
"""

from __future__ import annotations

import asyncio
import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ingest.jobs.runners import JobQueue, StagedFile, stage
from ingest.loaders import needs_ocr
from ingest.names import display_filename
from ingest.pipeline import FileResult, IngestPipeline, Source
from rag.config import Settings
from rag.errors import TooLarge
from rag.storage.jobs import Job

TEXT_KINDS = (".txt", ".md", ".markdown")  # a text upload keeps its name's loader only for these
# Files whose bytes are nearly all text to embed (not compressed, not layout): their size says how long they take.
PLAIN_TEXT_TYPES = (*TEXT_KINDS, ".html", ".htm", ".csv", ".eml")


@dataclass
class UploadedFile:
    """One file of an upload as the client sent it (its name is made harmless here)."""

    filename: str | None
    stream: BinaryIO
    size: int  # bytes, as the client declared (0 when it did not)
    document_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class UploadOutcome:
    """The results of files ingested now, or the job that will ingest them."""

    results: list[FileResult] = field(default_factory=list)
    job: Job | None = None


class Uploads:
    def __init__(self, pipeline: IngestPipeline, jobs: JobQueue, settings: Settings) -> None:
        self.pipeline = pipeline
        self.jobs = jobs
        self.settings = settings

    def as_job(self, request_bytes: int, files: int, text_bytes: int = 0) -> bool:
        """Over RAG_SYNC_UPLOAD_BYTES, RAG_SYNC_UPLOAD_FILES or RAG_SYNC_UPLOAD_TEXT_BYTES (plain text: a 4 MB
        Markdown file is ~4,000 chunks, minutes of encoding) a request would wait too long: a job instead.
        Serving only, workers ingest everything."""
        settings = self.settings
        big = request_bytes > settings.sync_upload_bytes or files > settings.sync_upload_files
        return big or text_bytes > settings.sync_upload_text_bytes or not settings.serve_ingest

    async def upload_files(self, collection: str, files: list[UploadedFile], request_bytes: int) -> UploadOutcome:
        """Stage the files on disk, then ingest them now or submit them as a job."""
        self._refuse_oversized(files)
        job_id, directory = self.jobs.new_upload_dir()
        staged = await asyncio.to_thread(_stage_all, directory, files)
        text_bytes = sum(Path(f.path).stat().st_size for f in staged if _plain_text(f))
        if self.as_job(request_bytes, len(staged), text_bytes) or await asyncio.to_thread(self._needs_ocr, staged):
            return UploadOutcome(job=self.jobs.submit(job_id, collection, staged))
        try:
            results = await asyncio.to_thread(self.pipeline.ingest, [f.source() for f in staged], collection)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return UploadOutcome(results=results)

    async def upload_text(
        self, collection: str, text: str, filename: str, document_id: str | None, metadata: dict[str, Any]
    ) -> UploadOutcome:
        """A text as one document, read as plain text unless its name says Markdown."""
        filename = display_filename(filename)
        kind = filename if filename.lower().endswith(TEXT_KINDS) else "text.txt"
        data = text.encode()
        if self.as_job(0, 0, len(data)):  # a long text, or workers ingest: a one-file job
            job_id, directory = self.jobs.new_upload_dir()
            staged = await asyncio.to_thread(
                stage, directory, 0, filename, io.BytesIO(data), document_id=document_id,
                metadata=metadata, kind=kind,
            )  # fmt: skip
            return UploadOutcome(job=self.jobs.submit(job_id, collection, [staged]))
        source = Source.from_bytes(filename, data, document_id=document_id, metadata=metadata)
        source.kind = kind
        return UploadOutcome(results=await asyncio.to_thread(self.pipeline.ingest, [source], collection))

    def _needs_ocr(self, staged: list[StagedFile]) -> bool:
        """OCR takes seconds a page: a scan or an image is read in a background job, at low priority, with its
        pages counted in the job's progress, never while a request waits (the interactive-first rule)."""
        return any(needs_ocr(f.kind or f.filename, Path(f.path), self.settings.ocr) for f in staged)

    def _refuse_oversized(self, files: list[UploadedFile]) -> None:
        """A file over the per-file limit is refused with the upload, not accepted into a job that fails later."""
        limit = self.settings.max_file_bytes
        over = [f for f in files if f.size > limit]
        if over:
            names = ", ".join(f"{display_filename(f.filename)!r} ({f.size:,} bytes)" for f in over[:5])
            more = f" and {len(over) - 5} more" if len(over) > 5 else ""
            raise TooLarge(
                f"nothing was ingested: over the per-file limit of {limit:,} bytes (RAG_MAX_FILE_BYTES): {names}{more}"
            )


def _plain_text(staged: StagedFile) -> bool:
    return Path(staged.kind or staged.filename).suffix.lower() in PLAIN_TEXT_TYPES


def _stage_all(directory: Path, files: list[UploadedFile]) -> list[StagedFile]:
    return [
        stage(directory, i, display_filename(f.filename), f.stream, document_id=f.document_id, metadata=f.metadata)
        for i, f in enumerate(files)
    ]
