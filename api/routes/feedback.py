"""Feedback on answers: POST /v1/answers/{answer_id}/feedback (thumbs up or down, a comment, the right source)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict

from fastapi import APIRouter, Response

from api.deps import ServicesDep
from api.permissions import current_caller
from api.schemas.common import ERROR_RESPONSES
from api.schemas.feedback import FeedbackOut, FeedbackRequest
from rag.answering.feedback import seen_under
from rag.storage.answers import AnswerRecord

router = APIRouter(tags=["feedback"])


@router.post(
    "/v1/answers/{answer_id}/feedback",
    status_code=201,
    response_model=FeedbackOut,
    responses={**ERROR_RESPONSES, 200: {"model": FeedbackOut, "description": "Replaced the earlier feedback"}},
)
async def give_feedback(
    answer_id: str, body: FeedbackRequest, response: Response, services: ServicesDep
) -> FeedbackOut:
    """Rate an answer by the `id` /v1/query (or /v1/chat/completions) returned: 201 for its first feedback, 200
    when it replaces an earlier one. Any key that may read the answer's collection may rate it; an answer of
    another collection, or one older than RAG_QUESTION_RETENTION_DAYS, is a 404."""
    caller = current_caller()

    def sees(answer: AnswerRecord) -> bool:
        """Its collection; with a document filter, an answer given under the same filter."""
        if not caller.sees(answer.collection):
            return False
        if caller.documents is None:
            return True
        visible = {d.document_id for d in services.registry.documents(answer.collection)}
        return seen_under(answer, caller.documents, visible)

    feedback, created = await asyncio.to_thread(
        services.keeper.give_feedback, answer_id, body.rating, body.comment, body.source, sees
    )
    response.status_code = 201 if created else 200
    return FeedbackOut(**asdict(feedback))
