"""A regression QA set from users' feedback (`rag eval --from-feedback`): the questions of a collection's
users, with gold pages they vouched for, in the `rag eval` answer format (rag/evaluation/answers.py), so a
change of settings can be checked against them.

An up-voted answer gives its question, its cited pages as gold and its text as the reference answer; a
down-voted one gives its question and the source the user said it should have cited (no reference text:
the answer given was wrong). Down votes without a usable source, and answers whose question was not kept,
are counted as skipped. The collection's originals go beside, so `rag eval DIR --docs DIR/documents` runs
the set on the same documents.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import InvalidInput
from rag.storage.answers import AnswerLog, RatedAnswer
from rag.storage.originals import OriginalStore
from rag.storage.registry.types import DocumentRecord, Registry

DOCUMENTS = "documents"
# "handbook.pdf#page=3", "handbook.pdf p. 3", "handbook.pdf, page 3", "handbook.pdf:3", or just "handbook.pdf".
_PAGE = re.compile(r"^(?P<name>.+?)(?:\s*(?:#page=|,?\s*p(?:age|\.)?\s*|:)\s*(?P<page>\d+))?\s*$", re.IGNORECASE)


@dataclass
class FeedbackSet:
    items: list[dict[str, Any]]
    skipped: Counter[str] = field(default_factory=Counter)
    documents: int = 0  # originals written beside the questions


def named_source(text: str, documents: list[DocumentRecord]) -> tuple[str, int | None] | None:
    """The (document id, page) a user's "should have cited" names: by id, else by file name; None if none."""
    match = _PAGE.match(text.strip())
    if not match:
        return None
    name, page = match.group("name").strip(), match.group("page")
    found = next((d for d in documents if d.document_id == name), None) or next(
        (d for d in documents if d.filename == name or Path(d.document_id).name == name), None
    )
    if found is None:
        return None
    return found.document_id, int(page) if page else None


def feedback_items(rated: list[RatedAnswer], documents: list[DocumentRecord]) -> FeedbackSet:
    """The QA items of a collection's feedback, one per question (the latest feedback wins)."""
    latest: dict[str, dict[str, Any]] = {}
    skipped: Counter[str] = Counter()
    for entry in rated:
        answer, vote = entry.answer, entry.feedback
        if answer is None or answer.question is None:
            skipped["question not kept"] += 1
            continue
        if vote.rating == "up":
            if answer.abstained:
                skipped["up vote on an abstention"] += 1
                continue
            gold = list(dict.fromkeys((s["document_id"], s["page"]) for s in answer.cited))
            reference: str | None = answer.answer
        else:
            source = named_source(vote.source, documents) if vote.source else None
            if source is None:
                skipped["down vote without a source of the collection" if vote.source else "down vote, no source"] += 1
                continue
            gold, reference = [source], None
        if not gold:
            skipped["no cited source"] += 1
            continue
        latest[answer.question.strip().lower()] = {
            "id": f"fb-{answer.id}", "question": answer.question, "answerable": True,
            "gold": [{"file": file, "page": page} for file, page in gold], "answer": reference,
            "feedback": vote.rating, "comment": vote.comment,
        }  # fmt: skip
    return FeedbackSet(list(latest.values()), skipped)


def write_feedback_set(
    answer_log: AnswerLog, registry: Registry, originals: OriginalStore, collection: str, since: str, out: Path
) -> FeedbackSet:
    """Write `out/questions.jsonl` and the collection's originals under `out/documents/`."""
    documents = registry.documents(collection)
    found = feedback_items(answer_log.rated(collection, since), documents)
    if not found.items:
        reasons = ", ".join(f"{n} {why}" for why, n in found.skipped.items()) or "no feedback in the period"
        raise InvalidInput(f"no question of {collection!r} has usable feedback ({reasons})")
    out.mkdir(parents=True, exist_ok=True)
    folder = (out / DOCUMENTS).resolve()
    for document in documents:
        stored = originals.path(collection, document.sha256)
        target = (folder / document.document_id).resolve()
        if stored is None or not target.is_relative_to(folder):  # ids are checked at upload; never leave out/
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(stored, target)
        found.documents += 1
    lines = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in found.items)
    (out / "questions.jsonl").write_text(lines, encoding="utf-8")
    return found
