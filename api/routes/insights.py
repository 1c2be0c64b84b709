"""GET /v1/collections/{name}/insights: what a collection's users asked, and what it could not answer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ServicesDep
from api.schemas.common import ERROR_RESPONSES
from api.schemas.insights import InsightsOut
from rag.answering.feedback import iso_days_ago
from rag.answering.insights import collection_insights

router = APIRouter(tags=["insights"])
_DATE = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


@router.get("/v1/collections/{name}/insights", response_model=InsightsOut, responses=ERROR_RESPONSES)
async def insights(
    name: str,
    services: ServicesDep,
    since: Annotated[
        str | None,
        Query(pattern=_DATE, description="The period's first day (YYYY-MM-DD, UTC); default: `days` ago"),
    ] = None,
    days: Annotated[int, Query(ge=1, le=36500, description="The period's length when `since` is not given")] = 30,
) -> InsightsOut:
    """Questions asked in the period, the share answered and abstained (by reason), the answers voted down, the
    unanswered questions grouped by topic (the documents to write) and the documents no answer cited. Needs a
    writer key: it shows other users' questions."""
    services.require_collection(name)
    start = iso_days_ago(days) if since is None else _utc(since)
    await asyncio.to_thread(services.keeper.flush)  # the answers just given count too
    found = await asyncio.to_thread(
        collection_insights, services.keeper.log, services.registry, services.components.embedder, name, start
    )
    return InsightsOut.model_validate(found.as_dict())


def _utc(day: str) -> str:
    """Midnight UTC of `day`; a day past its month's end (2026-02-30) runs on into the next month, so every
    date the pattern allows is a period, never an error."""
    year, month, number = (int(part) for part in day.split("-"))
    start = datetime(max(year, 1), month, 1, tzinfo=UTC) + timedelta(days=number - 1)
    return start.isoformat(timespec="seconds")
