"""Documents of a collection: upload (multipart files or JSON text), list, inspect, chunks, delete; jobs."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.answers_out import flag_fields
from api.deps import Services, ServicesDep
from api.json_body import parse_json, read_json
from api.openapi import links, ref
from api.permissions import current_caller
from api.schemas.common import ERROR_RESPONSES, error_responses
from api.schemas.grammar import METADATA_SCHEMA
from api.schemas.library import (
    ChunkOut,
    ChunkPage,
    DocumentOut,
    DocumentPage,
    FileResultOut,
    JobAccepted,
    JobOut,
    TextDocument,
    UploadResult,
)
from ingest.loaders import supported_types
from ingest.pipeline import FileResult
from ingest.uploads import UploadedFile, UploadOutcome
from rag.errors import InvalidInput, NotFound, RagError, TooLarge, Unprocessable, UnsupportedType
from rag.validation import check_metadata

router = APIRouter(tags=["documents"])
UPLOAD_DOC = """Either `multipart/form-data` with one or many `files` (optionally a `document_id` and a JSON
`metadata` object per file, in the same order; one `metadata` applies to all), or JSON
`{text, filename, metadata, document_id}`. Small uploads answer 201 with a result per file; bigger ones
(see `RAG_SYNC_UPLOAD_BYTES` / `RAG_SYNC_UPLOAD_FILES`) answer 202 with a job to follow at `/v1/jobs/{id}`;
a server started with `--no-ingest` answers 202 with a job for every upload (`rag worker` runs them).
The document id is the file's base name unless given; two files of one upload with the same id are not
both kept: the first is ingested, the others fail with 409 (give each its own `document_id` to keep both).
A lone file that fails answers with its own status (400, 413 or 415) and reason."""

# The body is parsed by hand (two content types): api.openapi adds TextDocument to the components.
UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["files"],
                "properties": {
                    "files": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "minItems": 1,
                        "description": f"Read by their extension ({', '.join(supported_types())}); one that cannot be"
                        " read fails with 400, 413 or 415",
                    },
                    # No type: a form part is text whatever a client meant to send, and its text is the id.
                    "document_id": {"description": "The documents' ids: none, or one part per file, in their order"},
                    # One JSON part; per-file metadata repeats the part, which JSON Schema has no words for.
                    "metadata": {
                        **METADATA_SCHEMA,
                        "description": "A JSON object for every file (see TextDocument.metadata); or one such part"
                        " per file, in the order of the files",
                    },
                },
            },
            "encoding": {"metadata": {"contentType": "application/json"}},
        },
        "application/json": {"schema": ref(TextDocument)},
    },
}
_DOCUMENT = {"name": "$request.path.name", "document_id": "$response.body#/results/0/document_id"}
UPLOADED_LINKS = links(
    ("get", "/v1/collections/{name}/documents/{document_id}", _DOCUMENT),
    ("get", "/v1/collections/{name}/documents/{document_id}/chunks", _DOCUMENT),
    ("get", "/v1/collections/{name}/documents/{document_id}/original", _DOCUMENT),
    ("delete", "/v1/collections/{name}/documents/{document_id}", _DOCUMENT),
)
JOB_LINKS = links(("get", "/v1/jobs/{job_id}", {"job_id": "$response.body#/job_id"}))


def _metadata(raw: Any) -> dict[str, Any]:
    value = parse_json(raw, "metadata", Unprocessable) if isinstance(raw, str) else raw
    if not isinstance(value, dict):
        raise Unprocessable("metadata must be a JSON object of strings, numbers or booleans")
    try:
        return check_metadata(value)
    except InvalidInput as exc:
        raise Unprocessable(f"metadata: {exc.message}") from exc


def _answer(results: list[FileResult]) -> JSONResponse:
    """201 with a result per file; a lone file that failed answers with its own status instead, naming it."""
    if len(results) == 1 and results[0].status == "failed":
        error = RagError(f"{results[0].filename}: {results[0].reason or 'ingestion failed'}")
        error.status_code = results[0].status_code or 400
        raise error
    body = UploadResult(results=[FileResultOut.model_validate(r, from_attributes=True) for r in results])
    return JSONResponse(body.model_dump(), status_code=201)


async def _upload_text(collection: str, request: Request, services: Services) -> JSONResponse:
    raw = await read_json(request, Unprocessable)
    try:
        doc = TextDocument.model_validate(raw)
    except ValidationError as exc:
        raise Unprocessable(f"invalid text document: {exc}") from exc
    outcome = await services.uploads.upload_text(collection, doc.text, doc.filename, doc.document_id, doc.metadata)
    return _respond(outcome)


def _respond(outcome: UploadOutcome) -> JSONResponse:
    """202 with where to follow the job the upload became, or the results of the files ingested now."""
    job = outcome.job
    if job is None:
        return _answer(outcome.results)
    body = JobAccepted(job_id=job.id, status=job.status, files_total=job.files_total)
    return JSONResponse(body.model_dump(), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})


async def _upload_files(collection: str, request: Request, services: Services, length: int) -> Response:
    form = await request.form(max_files=10_000, max_fields=10_000)
    uploads = [f for f in [*form.getlist("files"), *form.getlist("file")] if isinstance(f, UploadFile)]
    if not uploads:
        raise InvalidInput("no files: send them in the multipart field 'files'")
    ids = [str(v) for v in form.getlist("document_id")]
    metas = [_metadata(v) for v in form.getlist("metadata")]
    if len(metas) == 1:
        metas *= len(uploads)
    if (ids and len(ids) != len(uploads)) or (metas and len(metas) != len(uploads)):
        raise Unprocessable("give document_id and metadata once per file, in the order of the files")
    files = [
        UploadedFile(u.filename, u.file, u.size or 0, ids[i] if ids else None, metas[i] if metas else {})
        for i, u in enumerate(uploads)
    ]
    return _respond(await services.uploads.upload_files(collection, files, length))


@router.post(
    "/v1/collections/{name}/documents",
    status_code=201,
    response_model=UploadResult,
    responses={**error_responses(413, 415), 201: UPLOADED_LINKS, 202: {"model": JobAccepted, **JOB_LINKS}},
    description=UPLOAD_DOC,
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def upload_documents(name: str, request: Request, services: ServicesDep) -> Response:
    services.require_collection(name)
    length = int(request.headers.get("content-length") or 0)
    if length > services.settings.max_upload_bytes:
        raise TooLarge(f"upload of {length:,} bytes is over the limit of {services.settings.max_upload_bytes:,}")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        return await _upload_text(name, request, services)
    if content_type.startswith("multipart/form-data"):
        return await _upload_files(name, request, services, length)
    raise UnsupportedType(f"send multipart/form-data files ({', '.join(supported_types())}) or a JSON text document")


def _document(services: Services, collection: str, document_id: str) -> DocumentOut:
    return DocumentOut(**services.document(collection, document_id).public())


@router.get("/v1/collections/{name}/documents", response_model=DocumentPage, responses=ERROR_RESPONSES)
async def list_documents(
    name: str,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    sort: Literal["updated_at", "created_at"] = "updated_at",
    order: Literal["desc", "asc"] = "desc",
) -> DocumentPage:
    services.require_collection(name)
    records = sorted(
        services.registry.documents(name), key=lambda r: (getattr(r, sort), r.document_id),
        reverse=order == "desc",
    )  # fmt: skip
    page = [DocumentOut(**r.public()) for r in records[offset : offset + limit]]
    return DocumentPage(documents=page, total=len(records), limit=limit, offset=offset)


@router.get(
    "/v1/collections/{name}/documents/{document_id:path}/chunks", response_model=ChunkPage, responses=ERROR_RESPONSES
)
async def list_chunks(
    name: str,
    document_id: str,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ChunkPage:
    _document(services, name, document_id)
    chunks = services.components.keyword.document_chunks(name, document_id)
    page = [
        ChunkOut(chunk_id=c.chunk_id, chunk_index=c.metadata.get("chunk_index", i), page=c.metadata.get("page"),
                 start_char=c.metadata.get("start_char", 0), end_char=c.metadata.get("end_char", 0), text=c.text,
                 **flag_fields(c.metadata, c.text))
        for i, c in enumerate(chunks)
    ][offset : offset + limit]  # fmt: skip
    return ChunkPage(chunks=page, total=len(chunks), limit=limit, offset=offset)


@router.get(
    "/v1/collections/{name}/documents/{document_id:path}", response_model=DocumentOut, responses=ERROR_RESPONSES
)
async def get_document(name: str, document_id: str, services: ServicesDep) -> DocumentOut:
    return _document(services, name, document_id)


@router.delete("/v1/collections/{name}/documents/{document_id:path}", status_code=204, responses=ERROR_RESPONSES)
async def delete_document(name: str, document_id: str, services: ServicesDep) -> Response:
    _document(services, name, document_id)
    await asyncio.to_thread(services.pipeline.delete_document, name, document_id)
    return Response(status_code=204)


@router.get("/v1/jobs/{job_id}", response_model=JobOut, responses=ERROR_RESPONSES)
async def get_job(job_id: str, services: ServicesDep) -> JobOut:
    job = services.jobs.get(job_id)
    if job is None or not current_caller().sees(job.collection):  # another scope's job: as if there were none
        raise NotFound(f"job {job_id!r} not found")
    results = [FileResultOut(**r) for r in job.results]
    if current_caller().documents is not None:  # only the documents it sees (none, for what failed)
        results = [r for r in results if services.registry.get(job.collection, r.document_id) is not None]
    return JobOut(
        id=job.id, collection=job.collection, status=job.status, files_total=job.files_total,
        files_done=job.files_done, chunks_done=job.chunks_done, failures=[r for r in results if r.status == "failed"],
        results=results, error=job.error, created_at=job.created_at, updated_at=job.updated_at, worker=job.worker,
        takeovers=job.takeovers, ocr_pages_done=job.ocr_pages_done, ocr_pages_total=job.ocr_pages_total,
    )  # fmt: skip
