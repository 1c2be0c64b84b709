"""POST /v1/search: hybrid retrieval and re-ranking, no LLM involved."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from api.answers_out import search_result
from api.deps import ServicesDep
from api.schemas.answers import SearchRequest, SearchResponse
from api.schemas.common import ERROR_RESPONSES

router = APIRouter(tags=["search"])


@router.post("/v1/search", response_model=SearchResponse, responses=ERROR_RESPONSES)
async def search(body: SearchRequest, services: ServicesDep) -> SearchResponse:
    services.require_collection(body.collection)

    def search_and_shape() -> SearchResponse:
        # Shaping reads each hit's instruction verdict (patterns over the text for chunks stored without one):
        # in the worker thread with the search, so one request's shaping never holds up the event loop.
        retrieval = services.retriever.search(body.collection, body.query, body.top_k, body.filters, body.rerank)
        return SearchResponse(results=[search_result(hit) for hit in retrieval.hits])

    return await asyncio.to_thread(search_and_shape)
