"""Answers as the API shows them: numbered sources and the checker's verification, shared by every route."""

from __future__ import annotations

from typing import Any

from api.schemas.answers import QueryResponse, SearchResult, Source, Verification
from rag.answering.service import Answer
from rag.text.instructions import flag_of
from rag.types import SearchHit


def flag_fields(metadata: dict[str, Any], text: str) -> dict[str, Any]:
    """`instructions` and its reason, as every chunk the API shows carries them."""
    reason = flag_of(metadata, text)
    return {"instructions": reason is not None, "instructions_reason": reason}


def search_result(hit: SearchHit) -> SearchResult:
    return SearchResult(
        chunk_id=hit.chunk_id, document_id=hit.document_id, filename=hit.filename, page=hit.page, text=hit.text,
        score=hit.score, section=hit.section, origin=hit.metadata.get("origin"), **flag_fields(hit.metadata, hit.text),
    )  # fmt: skip


def sources_out(hits: list[SearchHit]) -> list[Source]:
    return [Source(n=n, **search_result(h).model_dump()) for n, h in enumerate(hits, start=1)]


def verification_out(answer: Answer) -> Verification:
    # A withheld answer's report describes text the client does not get: only its abstention is shown.
    report = None if answer.abstained else answer.grounding
    return Verification.model_validate(
        {
            "citations": [vars(c) for c in report.citations] if report else [],
            "unsupported": [vars(u) for u in report.unsupported] if report else [],
            "grounded": round(report.grounded, 4) if report else None,
            "abstain_reason": answer.abstain_reason,
            "related": sources_out(answer.related),
            "mode": answer.mode,
        }
    )


def final_answer(answer: Answer) -> dict[str, Any]:
    """What a stream's last event carries: the checked answer (it may differ from the streamed text)."""
    return {"answer": answer.answer, "abstained": answer.abstained, **verification_out(answer).model_dump()}


def query_response(answer: Answer) -> QueryResponse:
    """A whole answer as `POST /v1/query` (and `rag ask --json`) returns it."""
    return QueryResponse(
        id=answer.id, answer=answer.answer, sources=sources_out(answer.sources), abstained=answer.abstained,
        usage=answer.usage.as_dict(), model=answer.model, finish_reason=answer.finish_reason,
        **verification_out(answer).model_dump(),
    )  # fmt: skip
