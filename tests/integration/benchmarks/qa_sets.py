"""The smallest eval sets the benchmark smoke runs need, written into a test's tmp_path in the formats of
../shared/eval: a QA set as kb-dev (questions.jsonl beside docs/) and a BEIR folder as SciFact."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import SAMPLE_DOCS

# Six answerable questions over three files (grounding_calibration samples three others on other pages and
# two in other files for each) and one the documents cannot answer; evidence is verbatim.
QUESTIONS = [
    ("How long is the warranty on Northwind Robotics products?", "faq.md",
     "A 2-year limited warranty from the date of purchase.",
     "come with a 2-year limited warranty that starts on the date of purchase shown on your receipt or invoice."),
    ("How long is the RX-200 battery covered?", "faq.md",
     "The battery is covered for 12 months from the date of purchase.",
     "The rechargeable battery is a wear part and is covered for 12 months from the date of purchase."),
    ("When does the robot install a firmware update?", "release_notes.md",
     "Only while it is docked and has at least 50% battery.",
     "The robot installs an update only while it is docked and has at least 50% battery."),
    ("What does Pet Mode do?", "release_notes.md",
     "The robot slows down near pet bowls marked on the map and avoids them by 30 cm.",
     "The robot slows down near pet bowls marked on the map and avoids them by 30 cm to stop it from spilling"
     " water or food."),
    ("How quickly are emails to support answered?", "support_hours.txt",
     "Within 24 hours on business days.", "We answer emails within 24 hours on business days."),
    ("How fast are priority calls from business customers answered?", "support_hours.txt",
     "Priority calls are answered within 15 minutes.", "Priority calls are answered within 15 minutes."),
]  # fmt: skip
UNANSWERABLE = "Which Linux kernel version does the robot run?"


def make_qa_set(folder: Path) -> Path:
    """A kb-dev-shaped QA set of three sample documents and seven questions; returns its folder."""
    docs = folder / "docs"
    docs.mkdir(parents=True)
    for name in {file for _, file, _, _ in QUESTIONS}:
        shutil.copy(SAMPLE_DOCS / name, docs / name)
    rows = [
        {"id": f"tiny-{n}", "question": q, "answerable": True, "gold": [{"file": f, "page": None}], "answer": a,
         "evidence": e}
        for n, (q, f, a, e) in enumerate(QUESTIONS, 1)
    ]  # fmt: skip
    rows.append({"id": "tiny-7", "question": UNANSWERABLE, "answerable": False, "gold": [], "answer": None})
    (folder / "questions.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def make_beir_set(folder: Path, scifact: Path, queries: int = 12) -> Path:
    """The first `queries` SciFact train queries with only the abstracts their qrels name, as a BEIR folder."""
    (folder / "qrels").mkdir(parents=True)
    header, *pairs = (scifact / "qrels" / "train.tsv").read_text().splitlines()
    query_ids = list(dict.fromkeys(line.split("\t")[0] for line in pairs))[:queries]
    kept = [line for line in pairs if line.split("\t")[0] in query_ids]
    (folder / "qrels" / "train.tsv").write_text("\n".join([header, *kept]) + "\n")
    doc_ids = {line.split("\t")[1] for line in kept}
    for name, ids in (("corpus.jsonl", doc_ids), ("queries.jsonl", set(query_ids))):
        with (scifact / name).open() as lines:
            (folder / name).write_text("".join(line for line in lines if json.loads(line)["_id"] in ids))
    return folder
