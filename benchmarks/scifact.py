"""Retrieval quality on BEIR SciFact (train split): `rag eval`, plus the variants tried for the default.

    .venv/bin/python benchmarks/scifact.py [--data-dir /tmp/scifact-data] [--scifact ../shared/eval/scifact]
    .venv/bin/python benchmarks/scifact.py --variants     # also score the re-ranking variants in-process

The corpus is ingested once into a persistent data dir (SciFact is CC BY-NC: it is read from
shared/, never copied into the repo); later runs reuse the collection. The first part runs the real
`rag eval --json` (dense, keyword, rrf, default). `--variants` then scores, in this process and on
the same stored collection, the default re-ranker at several dense weights.
Issue 8's target: default nDCG@10 >= 0.75 and >= 0.025 above rrf.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.evaluation.retrieval import default_collection_name, evaluate, load_beir  # noqa: E402
from rag.retrieval.components import build_components  # noqa: E402
from rag.retrieval.hybrid import Retriever  # noqa: E402
from rag.retrieval.rerank import HybridScoreReranker  # noqa: E402

# The default re-ranker's one knob; 0.6 is what ships (see rag/retrieval/rerank.py).
DENSE_WEIGHTS = [0.4, 0.5, 0.6, 0.7]


def run_eval(scifact: Path, data_dir: Path, split: str) -> dict[str, object]:
    env = {**os.environ, "RAG_DATA_DIR": str(data_dir)}
    command = [str(Path(sys.executable).parent / "rag"), "eval", str(scifact), "--split", split, "--json"]
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout)


def score_variants(scifact: Path, data_dir: Path, split: str) -> None:
    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    components = build_components(settings)
    data = load_beir(scifact, split)
    collection = default_collection_name(scifact)
    for weight in DENSE_WEIGHTS:
        retriever = Retriever(components, HybridScoreReranker(dense_weight=weight))
        result = evaluate(retriever, collection, data, "default")
        print(f"dense weight {weight}: nDCG@10 {result.scores['ndcg@10']:.4f}  R@100 {result.scores['recall@100']:.4f}"
              f"  {result.queries_per_s:.1f} q/s", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scifact", type=Path, default=ROOT.parent / "shared" / "eval" / "scifact")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/scifact-data"))
    parser.add_argument("--split", default="train")
    parser.add_argument("--variants", action="store_true", help="Also score several dense weights.")
    args = parser.parse_args()
    report = run_eval(args.scifact, args.data_dir, args.split)
    print(json.dumps(report, indent=2))
    scores = {r["config"]: r["ndcg@10"] for r in report["results"]}  # type: ignore[attr-defined]
    margin = scores["default"] - scores["rrf"]
    print(f"default nDCG@10 {scores['default']:.4f}, {margin:+.4f} over rrf (target >= 0.75 and >= +0.025)")
    if args.variants:
        score_variants(args.scifact, args.data_dir, args.split)


if __name__ == "__main__":
    main()
