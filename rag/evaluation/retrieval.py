"""Retrieval evaluation on BEIR-format data, scored with ranx, over the same code as /v1/search.

Configurations (rag/evaluation/configs.py): `dense`, `keyword`, `rrf` (plain reciprocal-rank fusion of the two,
the baseline), `default` (exactly what /v1/search does with no options), `cross-encoder` when one is configured,
and any re-ranked base followed by search steps (`hybrid+vector-prf`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InvalidInput
from rag.retrieval.hybrid import Retriever

METRICS = ["ndcg@10", "recall@10", "recall@100", "mrr@10"]
CONFIGS = ["dense", "keyword", "rrf", "default"]
CROSS_ENCODER = "cross-encoder"


def available_configs(reranker_model: str | None) -> list[str]:
    return [*CONFIGS, CROSS_ENCODER] if reranker_model else list(CONFIGS)


@dataclass
class BeirData:
    corpus: dict[str, dict[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _jsonl(path: Path) -> list[dict[str, str]]:
    """The objects of a JSON-lines file; each must carry an `_id`."""
    if not path.is_file():
        raise InvalidInput(f"missing file: {path}")
    rows = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict) or not isinstance(row.get("_id"), str) or not row["_id"]:
                raise InvalidInput(f"{path}:{number}: each line must be an object with a string '_id'")
            rows.append(row)
    if not rows:
        raise InvalidInput(f"{path} is empty")
    return rows


def load_beir(directory: Path, split: str = "test") -> BeirData:
    qrels_path = directory / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise InvalidInput(f"missing file: {qrels_path}")
    corpus = {
        d["_id"]: {"title": d.get("title", ""), "text": d.get("text", "")} for d in _jsonl(directory / "corpus.jsonl")
    }
    all_queries = {q["_id"]: q["text"] for q in _jsonl(directory / "queries.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    if not rows or [c.strip() for c in rows[0][:3]] != ["query-id", "corpus-id", "score"]:
        raise InvalidInput(f"{qrels_path}: the first row must be the header 'query-id corpus-id score'")
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            query_id, corpus_id, score = row[0], row[1], int(row[2])
        except (IndexError, ValueError) as exc:
            raise InvalidInput(f"{qrels_path}:{number}: expected 'query-id<TAB>corpus-id<TAB>integer score'") from exc
        if score > 0:
            qrels.setdefault(query_id, {})[corpus_id] = score
    if not qrels:
        raise InvalidInput(f"split {split!r} has no relevance judgements")
    unknown = sorted(set(qrels) - set(all_queries))
    if unknown:
        raise InvalidInput(f"qrels name query ids that queries.jsonl lacks: {', '.join(unknown[:5])}")
    return BeirData(corpus, {qid: all_queries[qid] for qid in qrels}, qrels)


def document_text(entry: dict[str, str]) -> str:
    """What gets indexed for one corpus entry: its title, a blank line, its text."""
    title, text = (entry.get("title") or "").strip(), (entry.get("text") or "").strip()
    return f"{title}\n\n{text}" if title else text


def document_sha256(entry: dict[str, str]) -> str:
    """The sha256 the registry records for an entry ingested as `document_text(entry)`."""
    return hashlib.sha256(document_text(entry).encode()).hexdigest()


def default_collection_name(directory: Path) -> str:
    """`beir-<dataset folder>`, squeezed into the collection-name rules (see rag.types)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", directory.resolve().name).strip("._-")
    stem = re.sub(r"\.{2,}", ".", stem)[:50].rstrip("._-") or "dataset"
    return f"beir-{stem}"


Ranking = dict[str, float]  # document id → score, for one query


def best_chunk_per_document(ranked: list[tuple[str, float]]) -> Ranking:
    """Map chunk hits (document id, score), best first, to documents: each keeps its best chunk's rank."""
    run: Ranking = {}
    for document_id, _ in ranked:
        if document_id not in run:
            run[document_id] = float(len(ranked) - len(run))
    return run


def ranker(
    retriever: Retriever, collection: str, config: str, depth: int, rerank: bool | None = None
) -> Callable[[str], Ranking]:
    """How `config` ranks documents: one list alone (dense, keyword), or a search with or without re-ranking
    (None: all but `rrf` re-rank)."""
    components = retriever.components

    def dense(query: str) -> Ranking:
        hits = components.store.query(collection, components.embedder.embed_query(query), depth)
        return best_chunk_per_document([(h.document_id, h.similarity) for h in hits])

    def keyword(query: str) -> Ranking:
        hits = components.keyword.search(collection, query, depth)
        return best_chunk_per_document([(h.document_id, h.score) for h in hits])

    def search(rerank: bool) -> Callable[[str], Ranking]:
        def run(query: str) -> Ranking:
            hits = retriever.search(collection, query, depth, rerank=rerank).hits
            return best_chunk_per_document([(h.document_id, h.score) for h in hits])

        return run

    if config in ("dense", "keyword"):
        return dense if config == "dense" else keyword
    return search(config != "rrf" if rerank is None else rerank)


@dataclass
class ConfigResult:
    config: str
    scores: dict[str, float]
    queries_per_s: float

    def as_dict(self) -> dict[str, float | str]:
        return {"config": self.config, **self.scores, "queries_per_s": round(self.queries_per_s, 2)}


def evaluate(
    retriever: Retriever, collection: str, data: BeirData, config: str, depth: int = 100, rerank: bool | None = None
) -> ConfigResult:
    from ranx import Qrels, Run
    from ranx import evaluate as ranx_evaluate

    rank = ranker(retriever, collection, config, depth, rerank)
    rank(next(iter(data.queries.values())))  # warm-up: first-call costs (model, caches) are not throughput
    started = time.perf_counter()
    run = {qid: rank(text) for qid, text in data.queries.items()}
    elapsed = time.perf_counter() - started
    # ranx rejects empty rankings; a query that found nothing scores zero either way.
    run = {qid: ranking or {"__none__": 0.0} for qid, ranking in run.items()}
    scores = ranx_evaluate(Qrels(data.qrels), Run(run), METRICS)
    return ConfigResult(config, {m: float(scores[m]) for m in METRICS}, len(run) / elapsed)
