"""A QA set from feedback: which votes become questions, with which gold pages, and how users' own words for
"the source it should have cited" are read."""

from __future__ import annotations

from rag.evaluation.from_feedback import feedback_items, named_source
from rag.storage.answers import AnswerRecord, FeedbackRecord, RatedAnswer
from rag.storage.registry.types import DocumentRecord


def _document(document_id: str) -> DocumentRecord:
    return DocumentRecord("hr", document_id, document_id.rsplit("/", 1)[-1], 1, "0" * 64, "v", None, "ready", 1, 3,
                          "", "")  # fmt: skip


DOCUMENTS = [_document("policies/leave.pdf"), _document("robot.md")]


def _rated(answer_id: str, rating: str, question: str | None = "q?", source: str | None = None, **answer: object):
    record = AnswerRecord(answer_id, "hr", question, "It is 25 days [1].", answer.pop("sources", []),
                          bool(answer.pop("abstained", False)), None, "extract")  # fmt: skip
    return RatedAnswer(FeedbackRecord(answer_id, "hr", rating, None, source), record)  # type: ignore[arg-type]


def test_a_named_source_is_found_by_id_or_file_name_with_or_without_a_page() -> None:
    assert named_source("policies/leave.pdf#page=3", DOCUMENTS) == ("policies/leave.pdf", 3)
    assert named_source("leave.pdf p. 2", DOCUMENTS) == ("policies/leave.pdf", 2)
    assert named_source("leave.pdf, page 4", DOCUMENTS) == ("policies/leave.pdf", 4)
    assert named_source(" robot.md ", DOCUMENTS) == ("robot.md", None)
    assert named_source("handbook.pdf#page=1", DOCUMENTS) is None


def test_up_votes_give_their_cited_pages_and_down_votes_the_source_users_named() -> None:
    cited = [{"document_id": "policies/leave.pdf", "page": 2, "cited": True},
             {"document_id": "robot.md", "page": None, "cited": False}]  # fmt: skip
    found = feedback_items(
        [
            _rated("a1", "up", "How much leave?", sources=cited),
            _rated("a2", "down", "What is E09?", source="robot.md"),
            _rated("a3", "down", "Parking?"),  # no source: nothing to check against
            _rated("a4", "down", "Canteen?", source="menu.pdf"),  # not a document of the collection
            _rated("a5", "up", None),  # keeping was off
            _rated("a6", "up", "Dress code?", abstained=True),
        ],
        DOCUMENTS,
    )
    by_id = {item["id"]: item for item in found.items}
    assert set(by_id) == {"fb-a1", "fb-a2"}
    assert by_id["fb-a1"]["gold"] == [{"file": "policies/leave.pdf", "page": 2}] and by_id["fb-a1"]["answer"]
    assert by_id["fb-a2"]["gold"] == [{"file": "robot.md", "page": None}] and by_id["fb-a2"]["answer"] is None
    assert all(item["answerable"] for item in found.items)
    assert sum(found.skipped.values()) == 4


def test_the_latest_feedback_on_a_question_wins() -> None:
    found = feedback_items([_rated("a1", "up", "E09?", sources=[{"document_id": "robot.md", "page": None,
                                                                  "cited": True}]),
                            _rated("a2", "down", "e09? ", source="policies/leave.pdf#page=1")], DOCUMENTS)  # fmt: skip
    assert [item["id"] for item in found.items] == ["fb-a2"]
