"""Evaluation runs end to end, as `rag eval` starts them: the dataset checked, its documents ingested, then scored.

Each run has two steps: `plan_*` checks everything before anything is built or ingested; `run_*` does the work.
rag does not import ingest/: the caller supplies the ingestion (an `Ingestor` over its pipeline) and how
progress is shown (a `Display`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rag.errors import Conflict, InvalidInput, RagError

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.evaluation.answers import QAItem, QARecord
    from rag.evaluation.retrieval import BeirData, ConfigResult
    from rag.retrieval.components import Components


@dataclass(frozen=True)
class IngestFailure:
    document_id: str
    filename: str
    reason: str | None


class Ingestor(Protocol):
    """Ingestion as evaluation needs it (the CLI's runs on ingest's pipeline)."""

    def stored_sha256(self, collection: str) -> dict[str, str]:
        """Document id → content digest of the collection's live documents."""
        ...

    def ingest_texts(
        self, collection: str, texts: Mapping[str, str], advance: Callable[[], None]
    ) -> list[IngestFailure]:
        """Ingest each text as a document of that id; `advance` after each one."""
        ...

    def ingest_folder(self, collection: str, folder: Path) -> list[IngestFailure]:
        """Ingest the supported files of `folder` and its sub-folders, each with its path there as its id."""
        ...


OpenIngestor = Callable[["Components"], Ingestor]


class Display(Protocol):
    """How a run shows where it is: progress bars and spinners for a person, nothing for a script."""

    def steps(self, label: str, total: int) -> AbstractContextManager[Callable[[], None]]:
        """A bar of `total` steps; the callable advances it by one."""
        ...

    def status(self, message: str) -> AbstractContextManager[object]: ...

    def note(self, message: str) -> None: ...


class CorpusMismatch(Conflict):
    """The collection holds documents the corpus does not: scores there would mean nothing."""


class IngestFailed(RagError):
    """Some of the dataset's documents could not be ingested: nothing was scored."""


@dataclass
class RetrievalPlan:
    dataset_dir: Path
    split: str
    collection: str
    configs: list[str]
    top_k: int  # documents retrieved per query
    data: BeirData


@dataclass
class RetrievalReport:
    dataset: str
    split: str
    queries: int
    documents: int
    ingest_seconds: float
    reused: bool  # the collection already held the corpus
    results: list[ConfigResult]

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "split": self.split, "queries": self.queries,
            "ingest_seconds": round(self.ingest_seconds, 2), "results": [r.as_dict() for r in self.results],
        }  # fmt: skip


def plan_retrieval(
    dataset_dir: Path,
    split: str,
    collection: str | None,
    configs: Sequence[str] | None,
    top_k: int,
    settings: Settings,
) -> RetrievalPlan:
    """A BEIR folder's run, checked: the configurations, the collection name and the whole dataset."""
    from rag.evaluation.configs import parse_config
    from rag.evaluation.retrieval import available_configs, default_collection_name, load_beir
    from rag.validation import check_collection_name

    chosen = list(dict.fromkeys(configs or available_configs(settings.reranker_model)))
    for config in chosen:
        parse_config(config, settings.reranker_model)
    name = check_collection_name(collection or default_collection_name(dataset_dir))
    return RetrievalPlan(dataset_dir, split, name, chosen, top_k, load_beir(dataset_dir, split))


def run_retrieval(
    plan: RetrievalPlan, settings: Settings, open_ingestor: OpenIngestor, display: Display
) -> RetrievalReport:
    """Ingest what the collection lacks of the corpus (a collection that holds it is reused), then score each
    configuration (nDCG@10, Recall@10/100, MRR@10, queries per second)."""
    from rag.evaluation.configs import SINGLE_LISTS, build_retriever, parse_config
    from rag.evaluation.retrieval import evaluate
    from rag.retrieval.components import build_components

    components = build_components(settings)
    ingestor = open_ingestor(components)
    started = time.perf_counter()
    corpus = plan.data.corpus
    missing = _corpus_to_ingest(ingestor, plan.collection, corpus)
    if missing:
        _ingest_corpus(ingestor, plan.collection, {doc_id: corpus[doc_id] for doc_id in missing}, display)
        ingest_seconds = time.perf_counter() - started
    else:
        ingest_seconds = 0.0
        display.note(f"reusing collection {plan.collection!r}: it already holds this corpus ({len(corpus)} documents)")
    _threads_as_served(settings)
    results = []
    for config in plan.configs:
        with display.status(f"evaluating {config} on {len(plan.data.queries)} queries..."):
            parsed = parse_config(config, settings.reranker_model)
            retriever, rerank = build_retriever(parsed, components, settings)
            results.append(evaluate(retriever, plan.collection, plan.data, parsed.base if parsed.base in
                                    SINGLE_LISTS else config, plan.top_k, rerank))  # fmt: skip
    return RetrievalReport(plan.dataset_dir.resolve().name, plan.split, len(plan.data.queries), len(corpus),
                           ingest_seconds, not missing, results)  # fmt: skip


def _corpus_to_ingest(ingestor: Ingestor, collection: str, corpus: dict[str, dict[str, str]]) -> list[str]:
    """Corpus ids whose document is missing or differs in `collection`; refuses a collection with strangers."""
    from rag.evaluation.retrieval import document_sha256

    stored = ingestor.stored_sha256(collection)
    strangers = set(stored) - set(corpus)
    if strangers:
        raise CorpusMismatch(
            f"collection {collection!r} holds {len(strangers)} document(s) that are not in the corpus,"
            f" e.g. {sorted(strangers)[0]!r}; pick another --collection"
        )
    return [doc_id for doc_id, entry in corpus.items() if stored.get(doc_id) != document_sha256(entry)]


def _ingest_corpus(ingestor: Ingestor, collection: str, corpus: dict[str, dict[str, str]], display: Display) -> None:
    from rag.evaluation.retrieval import document_text

    texts = {doc_id: document_text(entry) for doc_id, entry in corpus.items()}
    with display.steps("ingesting corpus", len(texts)) as advance:
        failed = ingestor.ingest_texts(collection, texts, advance)
    if failed:
        example = f"{failed[0].document_id}: {failed[0].reason}"
        raise IngestFailed(f"{len(failed)} corpus document(s) failed to ingest, e.g. {example}")


def _threads_as_served(settings: Settings) -> None:
    """Queries run one at a time, as in `rag serve`: its thread count keeps single-query latency low (with
    more threads than free cores, a one-line query can spin for a second while another process runs)."""
    import torch

    torch.set_num_threads(settings.serve_torch_threads)


@dataclass
class AnswerPlan:
    dataset_dir: Path
    docs_dir: Path  # where the set's documents are
    collection: str
    items: list[QAItem]
    details: Path | None  # where to write every question's answer and verdicts


def plan_answers(dataset_dir: Path, docs_dir: Path, collection: str | None, details: Path | None) -> AnswerPlan:
    """A QA set's run, checked: the collection name, the questions, and that every gold document is there."""
    from rag.evaluation.answers import gold_files, load_qa_set
    from rag.evaluation.retrieval import default_collection_name
    from rag.validation import check_collection_name

    name = check_collection_name(collection or default_collection_name(dataset_dir).replace("beir-", "qa-", 1))
    items = load_qa_set(dataset_dir)
    missing = sorted(f for f in gold_files(items) if not (docs_dir / f).is_file())
    if missing:
        raise InvalidInput(f"{docs_dir} lacks the set's documents, e.g. {missing[0]} (pass --docs DIR)")
    return AnswerPlan(dataset_dir, docs_dir, name, items, details)


def run_answers(plan: AnswerPlan, settings: Settings, open_ingestor: OpenIngestor, display: Display) -> dict[str, Any]:
    """Ingest the set's documents, ask every question through the answer service (the path of /v1/query),
    score the answers; returns the summary (dataset, collection, then each figure)."""
    from rag.evaluation.answers import score_record, summarize, write_details
    from rag.retrieval.components import build_components

    ingestor = open_ingestor(build_components(settings))
    failed = ingestor.ingest_folder(plan.collection, plan.docs_dir)
    if failed:
        raise IngestFailed(f"{failed[0].filename} failed to ingest: {failed[0].reason}")
    _threads_as_served(settings)
    records = asyncio.run(_ask_all(plan, settings, display))
    for record in records:
        score_record(record)
    if plan.details:
        write_details(plan.details, records)
    return {"dataset": plan.dataset_dir.resolve().name, "collection": plan.collection, **summarize(records)}


def plan_search(
    dataset_dir: Path, docs_dir: Path, collection: str | None, configs: Sequence[str], settings: Settings
) -> AnswerPlan:
    """A QA set's search-only run (`--config` given), checked: the configurations, then as `plan_answers`."""
    from rag.evaluation.configs import parse_config

    for config in configs:
        parse_config(config, settings.reranker_model)
    return plan_answers(dataset_dir, docs_dir, collection, None)


def run_search(
    plan: AnswerPlan, configs: Sequence[str], settings: Settings, open_ingestor: OpenIngestor, display: Display
) -> dict[str, Any]:
    """Ingest the set's documents, then score each configuration's first five results: page hit@1, hit@5,
    MRR@5 and milliseconds per search (no answers: seconds per configuration)."""
    from rag.evaluation.configs import build_retriever, parse_config
    from rag.evaluation.search import score_config
    from rag.retrieval.components import build_components

    components = build_components(settings)
    failed = open_ingestor(components).ingest_folder(plan.collection, plan.docs_dir)
    if failed:
        raise IngestFailed(f"{failed[0].filename} failed to ingest: {failed[0].reason}")
    _threads_as_served(settings)
    results = []
    for config in dict.fromkeys(configs):
        with display.status(f"searching with {config}..."):
            retriever, rerank = build_retriever(parse_config(config, settings.reranker_model), components, settings)
            results.append(score_config(config, retriever, rerank, plan.collection, plan.items))
    return {"dataset": plan.dataset_dir.resolve().name, "collection": plan.collection, "results": results}


async def _ask_all(plan: AnswerPlan, settings: Settings, display: Display) -> list[QARecord]:
    from rag.answering.service import build_answer_service
    from rag.backends import SamplingParams
    from rag.evaluation.answers import ask
    from rag.retrieval.components import build_components

    # Built inside the loop: a backend's HTTP client belongs to it.
    answers = build_answer_service(settings, build_components(settings))
    answers.retriever.components.embedder.embed_query("warm-up")  # as `rag serve` does before serving
    params = SamplingParams(max_tokens=settings.max_tokens)
    records = []
    with display.steps("asking", len(plan.items)) as advance:
        for item in plan.items:
            records.append(await ask(answers, plan.collection, item, params))
            advance()
    return records
