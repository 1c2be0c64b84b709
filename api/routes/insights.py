"""GET /v1/collections/{name}/insights: what a collection's users asked, and what it could not answer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ServicesDep
from api.schemas.common import ERROR_RESPONSES
from api.schemas.insights import InsightsOut
from rag.answering.feedback import iso_days_ago
from rag.answering.insights import collection_insights

router = APIRouter(tags=["insights"])


@router.get("/v1/collections/{name}/insights", response_model=InsightsOut, responses=ERROR_RESPONSES)
async def insights(
    name: str,
    services: ServicesDep,
    since: Annotated[
        datetime | None, Query(description="The period's start (ISO 8601; UTC when no offset); default: `days` ago")
    ] = None,
    days: Annotated[int, Query(ge=1, le=36500, description="The period's length when `since` is not given")] = 30,
) -> InsightsOut:
    """Questions asked in the period, the share answered and abstained (by reason), the answers voted down, the
    unanswered questions grouped by topic (the documents to write) and the documents no answer cited. Needs a
    writer key: it shows other users' questions."""
    services.require_collection(name)
    start = iso_days_ago(days) if since is None else _utc(since)
    found = await asyncio.to_thread(
        collection_insights, services.keeper.log, services.registry, services.components.embedder, name, start
    )
    return InsightsOut.model_validate(found.as_dict())


def _utc(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds")
