"""Answer-level evaluation: ask every question of a QA set through the /v1/query code path and score it.

The set's format is `shared/eval/kb-dev`'s `questions.jsonl`: `id`, `question`, `answerable`, `gold`
(a list of `{file, page}`; page null for files without pages) and a reference `answer`. Everything is
scored deterministically, with no model acting as judge: page-level retrieval hits, abstention,
citations (the `[n]` markers of the final answer, mapped to their sources), token F1 and numbers
against the reference, the checker's supported-sentence rate, and latency.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.answering.service import AnswerService, Finished, RetrievalOptions
from rag.backends.base import SamplingParams
from rag.errors import InvalidInput
from rag.text.words import content_words, numbers

Page = tuple[str, int | None]  # (document id: the path in the set's folder, page); page None without pages


@dataclass
class QAItem:
    id: str
    question: str
    answerable: bool
    gold: list[Page]
    reference: str | None
    evidence: str | None = None  # the gold passage, verbatim


@dataclass
class QARecord:
    """One question's outcome: what `--details` writes, and what scoring reads."""

    id: str
    question: str
    answerable: bool
    gold: list[Page]
    reference: str | None
    answer: str
    abstained: bool
    abstain_reason: str | None
    sources: list[dict[str, Any]]  # {n, document, page, chunk_id, text}; document: its path in the set's folder
    retrieved: list[Page]  # the top 5 of retrieval, best first
    ttft_s: float
    total_s: float
    grounding: dict[str, Any] | None = None  # the checker's report, when the service returned one
    evidence: str | None = None
    verdicts: dict[str, Any] = field(default_factory=dict)


def load_qa_set(directory: Path) -> list[QAItem]:
    path = directory / "questions.jsonl"
    if not path.is_file():
        raise InvalidInput(f"missing file: {path}")
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            gold = [(str(g["file"]), g.get("page")) for g in row.get("gold") or []]
            items.append(QAItem(str(row["id"]), str(row["question"]), bool(row["answerable"]), gold, row.get("answer"),
                                row.get("evidence")))  # fmt: skip
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{path}:{number}: expected id, question, answerable, gold[{{file, page}}]") from exc
        if items[-1].answerable and not items[-1].gold:
            raise InvalidInput(f"{path}:{number}: an answerable question needs at least one gold page")
    if not items:
        raise InvalidInput(f"{path} is empty")
    return items


def gold_files(items: Sequence[QAItem]) -> set[str]:
    return {file for item in items for file, _ in item.gold}


_MARKER = re.compile(r"\[(\d+)\]")


def cited_numbers(answer: str) -> list[int]:
    """The source numbers the answer cites, in order, each once."""
    return list(dict.fromkeys(int(n) for n in _MARKER.findall(answer)))


def is_gold(page: Page, gold: Sequence[Page]) -> bool:
    return any(page[0] == file and (gold_page is None or page[1] == gold_page) for file, gold_page in gold)


def token_f1(answer: str, reference: str) -> float:
    """F1 over normalised content words (multiset overlap), as SQuAD scores answers, stop words dropped."""
    got, want = Counter(content_words(answer)), Counter(content_words(reference))
    common = sum((got & want).values())
    if not common:
        return 0.0
    precision, recall = common / sum(got.values()), common / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def numbers_match(answer: str, reference: str) -> bool:
    """Strict: every number of the reference occurs in the answer."""
    return numbers(reference) <= numbers(answer)


_EVIDENCE_WORD = re.compile(r"[^\W\d_]{3,}")


def evidence_held(answer: str, evidence: str) -> bool:
    """The answer holds at least half of the distinct 3+-letter words of the gold evidence passage: it quotes
    or restates the passage that answers, whatever else it says."""
    wanted = {w.lower() for w in _EVIDENCE_WORD.findall(evidence)}
    got = {w.lower() for w in _EVIDENCE_WORD.findall(answer)}
    return bool(wanted) and len(wanted & got) * 2 >= len(wanted)


_ANSWER_WORD = re.compile(r"\w+")
_CITATION = re.compile(r"\s*\[\d+\]")


def answer_words(answer: str) -> int:
    """Words of the answer, its [n] markers left out."""
    return len(_ANSWER_WORD.findall(_CITATION.sub("", answer)))


def score_record(record: QARecord) -> None:
    """Fill `record.verdicts`: retrieval, citations, correctness and support of this one answer."""
    v: dict[str, Any] = {"hit@1": None, "hit@5": None}
    if record.answerable:
        v["hit@1"] = bool(record.retrieved) and is_gold(record.retrieved[0], record.gold)
        v["hit@5"] = any(is_gold(p, record.gold) for p in record.retrieved[:5])
    by_n = {s["n"]: s for s in record.sources}
    cited = [(by_n[n]["document"], by_n[n]["page"]) for n in cited_numbers(record.answer) if n in by_n]
    v["citations"] = [list(c) for c in cited]
    v["gold_citations"] = sum(is_gold(c, record.gold) for c in cited)
    if record.answerable and not record.abstained and record.reference:
        v["f1"] = round(token_f1(record.answer, record.reference), 4)
        v["numbers_ok"] = numbers_match(record.answer, record.reference)
    if record.answerable and record.evidence:
        v["evidence"] = not record.abstained and evidence_held(record.answer, record.evidence)
    if not record.abstained:
        v["words"] = answer_words(record.answer)
    if not record.abstained and record.grounding is not None:
        v["sentences"], v["supported"] = record.grounding["sentences"], record.grounding["supported"]
    record.verdicts = v


def _rate(values: Sequence[bool | int | float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 3)


def _sentence_flags(record: QARecord) -> list[bool]:
    supported, sentences = record.verdicts["supported"], record.verdicts["sentences"]
    return [True] * supported + [False] * (sentences - supported)


def summarize(records: Sequence[QARecord]) -> dict[str, Any]:
    """The table's figures over scored records."""
    answerable = [r for r in records if r.answerable]
    unanswerable = [r for r in records if not r.answerable]
    answered = [r for r in answerable if not r.abstained]
    citations = sum(len(r.verdicts["citations"]) for r in answered)
    gold_citations = sum(r.verdicts["gold_citations"] for r in answered)
    checked = [r for r in records if not r.abstained and "sentences" in r.verdicts]
    referenced = [r for r in answered if "f1" in r.verdicts]  # a set from feedback has questions without one
    ttft = [r.ttft_s for r in records]
    total = [r.total_s for r in records]
    return {
        "questions": len(records),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit@1": _rate([bool(r.verdicts["hit@1"]) for r in answerable]),
        "hit@5": _rate([bool(r.verdicts["hit@5"]) for r in answerable]),
        "abstention": _rate([r.abstained for r in unanswerable]),
        "false_abstention": _rate([r.abstained for r in answerable]),
        "citations": citations,
        "citation_precision": round(gold_citations / citations, 4) if citations else None,
        "citation_coverage": _rate([r.verdicts["gold_citations"] > 0 for r in answered]),
        "f1": round(statistics.fmean(r.verdicts["f1"] for r in referenced), 4) if referenced else None,
        "numbers_ok": _rate([r.verdicts["numbers_ok"] for r in referenced]),
        "evidence_answers": _rate([r.verdicts["evidence"] for r in answerable if "evidence" in r.verdicts]),
        "median_answer_words": statistics.median(r.verdicts["words"] for r in answered) if answered else None,
        "supported_sentences": _rate([s for r in checked for s in _sentence_flags(r)]),
        "ttft_p50_s": _percentile(ttft, 0.5),
        "ttft_p95_s": _percentile(ttft, 0.95),
        "total_p50_s": _percentile(total, 0.5),
        "total_p95_s": _percentile(total, 0.95),
    }


def write_details(path: Path, records: Sequence[QARecord]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(asdict(r), ensure_ascii=False) + "\n")


def timer() -> Callable[[], float]:
    started = time.perf_counter()
    return lambda: time.perf_counter() - started


async def ask(service: AnswerService, collection: str, item: QAItem, params: SamplingParams) -> QARecord:
    """One question through the streaming /v1/query path, timed to the first text and to the end."""
    elapsed = timer()
    prepared = await service.prepare(item.question, collection, RetrievalOptions(), params.max_tokens)
    ttft = None
    async for event in service.stream(prepared, params):
        if isinstance(event, Finished):  # always the last event: the checked answer
            final = event.answer
        elif event.text and ttft is None:
            ttft = elapsed()
    total = elapsed()
    retrieved = await _retrieved_pages(service, collection, item.question)
    return QARecord(
        id=item.id, question=item.question, answerable=item.answerable, gold=item.gold, reference=item.reference,
        answer=final.answer, abstained=final.abstained, abstain_reason=final.abstain_reason, evidence=item.evidence,
        sources=[{"n": n, "document": h.document_id, "page": h.page, "chunk_id": h.chunk_id, "text": h.text}
                 for n, h in enumerate(final.sources, start=1)],
        retrieved=retrieved, ttft_s=round(ttft if ttft is not None else total, 4), total_s=round(total, 4),
        grounding=final.grounding.as_dict() if final.grounding is not None else None,
    )  # fmt: skip


async def _retrieved_pages(service: AnswerService, collection: str, question: str) -> list[Page]:
    hits = (await asyncio.to_thread(service.retriever.search, collection, question, 5)).hits
    return [(h.document_id, h.page) for h in hits]
