"""Fit the answerability model (rag/answering/answerability.py) on one QA set, report it on the others.

    .venv/bin/python benchmarks/fit_answerability.py \
        kb-dev=../shared/eval/kb-dev:/tmp/kb-dev-docs handbook-dev=../shared/eval/handbook-dev \
        [--work /tmp/fit-answerability] [--out DIR] [--json]

Each argument is NAME=QA_SET_DIR[:DOCS_DIR] (docs default: QA_SET_DIR/docs). Each set's documents are
ingested into a data directory of its own under --work (reused when present), then every question is
retrieved as /v1/query retrieves it and measured: the model's features, and the relevance (question ↔
sentence cosine) of the sentence the extractive answer would quote first, with whether that quote's
source is a gold page.

Two things are fitted, on the questions of the fitting set(s) only:
- the gate: logistic regression over FEATURES (standardised, class-balanced), answerable = label;
- `min_relevance`: the cut on the quoted sentence's relevance that maximises balanced accuracy of the final
  decision (answered with a gold citation vs unanswerable), on the questions the gate lets through.
Reported: each set with the fit of every other set (the held-out direction: the figure that counts), with
its own fit, and with the union's fit. --out writes each fit as JSON (RAG_ANSWERABILITY_MODEL=FILE loads
one, e.g. to run `rag eval` on a set with the fit of the other); the union's fit is what the code ships.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli.eval import PipelineIngestor  # noqa: E402
from rag.answering.answerability import FEATURES, AnswerabilityModel  # noqa: E402
from rag.answering.extractive import ExtractiveAnswerer  # noqa: E402
from rag.answering.service import build_answer_service  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.evaluation.answers import is_gold  # noqa: E402
from rag.evaluation.run import plan_answers  # noqa: E402
from rag.retrieval.components import build_components  # noqa: E402


@dataclass
class Row:
    set: str
    id: str
    answerable: bool
    features: dict[str, float]
    relevance: float  # of the sentence the extractive answer quotes first
    gold_quote: bool  # that sentence's source is a gold page


def measure(name: str, qa_dir: Path, docs: Path, work: Path) -> list[Row]:
    settings = Settings(data_dir=work / name, _env_file=None)  # type: ignore[call-arg]
    plan = plan_answers(qa_dir, docs, None, None)
    components = build_components(settings)
    failed = PipelineIngestor.open(components).ingest_folder(plan.collection, plan.docs_dir)
    if failed:
        raise SystemExit(f"{name}: {failed[0].filename} failed to ingest: {failed[0].reason}")
    service = build_answer_service(settings, components)
    unfiltered = ExtractiveAnswerer(service.extractor.vectors, min_relevance=-1.0)
    rows = []
    for item in plan.items:
        retrieval = service.retriever.search(plan.collection, item.question, 5)
        features, _ = service.judge.features(plan.collection, item.question, retrieval)
        quoted = unfiltered.answer(item.question, retrieval.hits).sentences
        first = max(quoted, key=lambda s: s.score) if quoted else None
        relevance = first.relevance if first else 0.0
        gold = first is not None and is_gold(
            (retrieval.hits[first.n - 1].document_id, retrieval.hits[first.n - 1].page), item.gold
        )
        rows.append(Row(name, item.id, item.answerable, features, relevance, gold))
        print(f"{name} {item.id} {int(item.answerable)} {features} rel={relevance:.3f} gold={gold}", file=sys.stderr)
    return rows


def fit(rows: list[Row], label: str) -> AnswerabilityModel:
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.preprocessing import StandardScaler

    x = np.array([[r.features[f] for f in FEATURES] for r in rows])
    y = np.array([r.answerable for r in rows])
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    # The regularisation is chosen by cross-validation inside the fitting set only: with a few dozen questions
    # per set and correlated features, an unregularised fit swings between sets.
    lr = LogisticRegressionCV(
        Cs=[0.01, 0.03, 0.1, 0.3, 1.0, 3.0], cv=5, class_weight="balanced", scoring="balanced_accuracy", max_iter=1000
    ).fit((x - scaler.mean_) / scale, y)
    weights = lr.coef_[0] / scale  # back to raw feature units, so the code needs no scaler
    bias = float(lr.intercept_[0] - np.sum(lr.coef_[0] * scaler.mean_ / scale))
    gate = AnswerabilityModel({f: round(float(w), 4) for f, w in zip(FEATURES, weights, strict=True)},
                              round(bias, 4), fitted_on=label)  # fmt: skip
    passed = [r for r in rows if gate.probability(r.features) >= gate.threshold]
    best, cut = -1.0, 0.0
    for candidate in sorted({round(r.relevance, 3) for r in passed} | {0.0}):
        score = _balanced(passed, rows, candidate)
        if score > best:
            best, cut = score, candidate
    return AnswerabilityModel(gate.weights, gate.bias, gate.threshold, round(cut, 3), label)


def _decisions(rows: list[Row], model: AnswerabilityModel) -> list[bool]:
    """Answered (not abstained) per row."""
    return [model.probability(r.features) >= model.threshold and r.relevance >= model.min_relevance for r in rows]


def _balanced(passed: list[Row], rows: list[Row], cut: float) -> float:
    answerable = [r for r in rows if r.answerable]
    unanswerable = [r for r in rows if not r.answerable]
    kept = {id(r) for r in passed if r.relevance >= cut}
    right = sum(id(r) in kept and r.gold_quote for r in answerable) / max(1, len(answerable))
    refused = sum(id(r) not in kept for r in unanswerable) / max(1, len(unanswerable))
    return (right + refused) / 2


def report(rows: list[Row], model: AnswerabilityModel) -> dict[str, float]:
    answered = _decisions(rows, model)
    answerable = [a for r, a in zip(rows, answered, strict=True) if r.answerable]
    unanswerable = [a for r, a in zip(rows, answered, strict=True) if not r.answerable]
    gate = [model.probability(r.features) >= model.threshold for r in rows]
    return {
        "abstention": round(1 - sum(unanswerable) / max(1, len(unanswerable)), 3),
        "false_abstention": round(1 - sum(answerable) / max(1, len(answerable)), 3),
        "gate_abstention": round(
            1 - sum(g for g, r in zip(gate, rows, strict=True) if not r.answerable) / max(1, len(unanswerable)), 3
        ),  # fmt: skip
        "gate_false_abstention": round(
            1 - sum(g for g, r in zip(gate, rows, strict=True) if r.answerable) / max(1, len(answerable)), 3
        ),  # fmt: skip
    }


def main() -> None:
    warnings.filterwarnings("ignore", category=FutureWarning)  # scikit-learn's notices about its next version
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="+", help="NAME=QA_SET_DIR[:DOCS_DIR]")
    parser.add_argument("--work", type=Path, default=Path("/tmp/fit-answerability"))
    parser.add_argument("--out", type=Path, help="write each fit as NAME.json here")
    parser.add_argument("--rows", type=Path, help="reuse (or write) the measured rows here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.rows and args.rows.is_file():
        rows = [Row(**r) for r in json.loads(args.rows.read_text())]
    else:
        rows = []
        for spec in args.sets:
            name, _, paths = spec.partition("=")
            qa_dir, _, docs = paths.partition(":")
            rows += measure(name, Path(qa_dir), Path(docs) if docs else Path(qa_dir) / "docs", args.work)
        if args.rows:
            args.rows.write_text(json.dumps([r.__dict__ for r in rows]))
    names = list(dict.fromkeys(r.set for r in rows))
    fits = {name: fit([r for r in rows if r.set == name], name) for name in names}
    fits["union"] = fit(rows, "+".join(names))
    results = []
    for target in names:
        target_rows = [r for r in rows if r.set == target]
        for fitted, model in fits.items():
            direction = "held out" if fitted not in (target, "union") else "self" if fitted == target else "union"
            results.append({"set": target, "fitted_on": fitted, "direction": direction,
                            **report(target_rows, model)})  # fmt: skip
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, model in fits.items():
            (args.out / f"{name}.json").write_text(model.to_json())
    if args.json:
        print(json.dumps({"fits": {k: json.loads(v.to_json()) for k, v in fits.items()}, "results": results}, indent=2))
        return
    print(f"{'set':14} {'fitted on':14} {'direction':9} {'abst':>6} {'false':>6} {'gate abst':>9} {'gate false':>10}")
    for r in results:
        print(f"{r['set']:14} {r['fitted_on']:14} {r['direction']:9} {r['abstention']:6.3f}"
              f" {r['false_abstention']:6.3f} {r['gate_abstention']:9.3f}"
              f" {r['gate_false_abstention']:10.3f}")  # fmt: skip
    print("\nunion fit (shipped):", fits["union"].to_json())


if __name__ == "__main__":
    main()
