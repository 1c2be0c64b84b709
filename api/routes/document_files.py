"""A document's original file and its pages as images (PDFs), for the web page's citation view.

Registered before `documents.py`: its `{document_id:path}` routes would otherwise take these paths.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response

from api.deps import Services, ServicesDep
from api.schemas.common import ERROR_RESPONSES
from ingest.loaders import MEDIA_TYPES
from ingest.page_images import render_page
from rag.errors import NotFound
from rag.storage.registry.types import DocumentRecord

router = APIRouter(tags=["documents"])
PNG = {200: {"content": {"image/png": {}}, "description": "The page as a PNG"}}
# A text document sent as JSON keeps the name it was given, whatever its extension: it is kept as plain text.
TEXT = "text/plain"
ORIGINAL = {
    200: {
        "content": {media_type: {} for media_type in sorted({*MEDIA_TYPES.values(), TEXT})},
        "description": "The file as it was uploaded, as the type its loader reads",
    }
}


def media_type(filename: str) -> str:
    """The type of a kept original: what its loader reads (ingest.loaders.MEDIA_TYPES), else plain text."""
    return MEDIA_TYPES.get(Path(filename).suffix.lower(), TEXT)


def _original(services: Services, collection: str, document_id: str) -> tuple[DocumentRecord, Path]:
    record = services.document(collection, document_id)
    return record, services.original(record)


@router.get(
    "/v1/collections/{name}/documents/{document_id:path}/pages/{page}.png",
    response_class=Response,
    responses={**ERROR_RESPONSES, **PNG},
)
async def page_image(
    name: str,
    document_id: str,
    page: int,
    services: ServicesDep,
    width: Annotated[int, Query(ge=100, le=2000, description="Image width in pixels")] = 900,
    highlight: Annotated[str | None, Query(max_length=4000, description="Text to outline on the page")] = None,
) -> Response:
    """Page `page` (1-based) of a PDF or image document, rendered server-side; `highlight` outlines a quote on it
    (the `X-Highlighted-Boxes` header says how many boxes were drawn, 0 when it was not found)."""
    record, path = _original(services, name, document_id)
    kind = media_type(record.filename)
    if record.pages is None or not (kind == "application/pdf" or kind.startswith("image/")):
        raise NotFound(f"document {document_id!r} is not a PDF or an image: it has no page images")
    image = await asyncio.to_thread(render_page, path, page, width, highlight, kind == "application/pdf")
    headers = {"X-Highlighted-Boxes": str(image.highlighted_boxes), "Cache-Control": "private, max-age=300"}
    return Response(image.png, media_type="image/png", headers=headers)


@router.get(
    "/v1/collections/{name}/documents/{document_id:path}/original",
    response_class=FileResponse,
    responses={**ERROR_RESPONSES, **ORIGINAL},
)
async def original_file(name: str, document_id: str, services: ServicesDep) -> FileResponse:
    """The file as it was uploaded, under its filename."""
    record, path = _original(services, name, document_id)
    return FileResponse(path, media_type=media_type(record.filename), filename=record.filename)
