"""Document encoders side by side on SciFact abstracts: vectors against PyTorch's, speed, and retrieval.

    .venv/bin/python benchmarks/encoders.py [--docs 1000] [--queries 300] [--batch-size 32] [--int8]

Encodes the same abstracts with sentence-transformers (PyTorch, the reference), with our ONNX Runtime
document encoder (fp32, the export and check the query path uses; batches sorted by length) and, with
``--int8``, with dynamically quantized int8 graphs of the same export (per tensor, per channel, and
MatMul-only per channel). For each: texts/s and its ratio to PyTorch in the same run, cosine to PyTorch's
vector of the same text (min and mean), and dense-only nDCG@10 of SciFact train queries over the encoded
abstracts (queries always embedded in fp32, as the service does; the corpus is every abstract relevant
to the first ``--queries`` queries plus the first abstracts of the corpus up to ``--docs``).
The vectors must agree to cosine >= 0.9999 (fp32); an int8 graph would have to keep nDCG@10 within 0.005.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

INT8_VARIANTS = {
    "int8 per tensor": {"per_channel": False},
    "int8 per channel": {"per_channel": True},
    "int8 MatMul only": {"per_channel": True, "op_types_to_quantize": ["MatMul"]},
}


def read_scifact(scifact: Path, docs: int, queries: int) -> tuple[list[str], list[str], list[str], list[set[int]]]:
    """(abstract ids, abstract texts, query texts, relevant abstract indexes per query)."""
    qrels: dict[str, set[str]] = defaultdict(set)
    with (scifact / "qrels" / "train.tsv").open(encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            query_id, corpus_id, score = line.split("\t")
            if int(score) > 0:
                qrels[query_id].add(corpus_id)
    query_texts = {}
    with (scifact / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["_id"] in qrels:
                query_texts[row["_id"]] = row["text"]
    chosen = [q for q in qrels if q in query_texts][:queries]
    wanted = set().union(*(qrels[q] for q in chosen)) if chosen else set()
    ids, texts = [], []
    with (scifact / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["_id"] in wanted or len(ids) < docs - len(wanted):
                ids.append(row["_id"])
                texts.append(f"{row.get('title', '').strip()}\n\n{row.get('text', '').strip()}".strip())
    index = {doc_id: i for i, doc_id in enumerate(ids)}
    relevant = [{index[d] for d in qrels[q] if d in index} for q in chosen]
    return ids, texts, [query_texts[q] for q in chosen], relevant


def ndcg_at_10(query_vectors: np.ndarray, doc_vectors: np.ndarray, relevant: list[set[int]]) -> float:
    scores = query_vectors @ doc_vectors.T
    total = 0.0
    for row, rel in zip(scores, relevant, strict=True):
        top = np.argsort(-row)[:10]
        dcg = sum(1.0 / np.log2(rank + 2) for rank, doc in enumerate(top) if doc in rel)
        ideal = sum(1.0 / np.log2(rank + 2) for rank in range(min(len(rel), 10)))
        total += dcg / ideal if ideal else 0.0
    return total / max(1, len(relevant))


@contextmanager
def no_turn() -> Iterator[None]:
    yield


def int8_sessions(model: Any, threads: int) -> dict[str, Any]:
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from rag.retrieval.query_encoder import export_onnx, session_options

    sessions = {}
    with tempfile.TemporaryDirectory(prefix="rag-int8-") as folder:
        fp32 = Path(folder) / "fp32.onnx"
        fp32.write_bytes(export_onnx(model))
        for name, options in INT8_VARIANTS.items():
            out = Path(folder) / f"{len(sessions)}.onnx"
            quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, **options)
            sessions[name] = onnxruntime.InferenceSession(
                str(out), session_options(threads), providers=["CPUExecutionProvider"]
            )
    return sessions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--int8", action="store_true", help="also try dynamically quantized int8 graphs")
    parser.add_argument("--scifact", type=Path, default=ROOT.parent / "shared" / "eval" / "scifact")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    from rag.retrieval.document_encoder import OnnxDocumentEncoder
    from rag.retrieval.embeddings import load_embedder

    _, texts, queries, relevant = read_scifact(args.scifact, args.docs, args.queries)
    print(f"{len(texts)} SciFact abstracts, {len(queries)} train queries, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads", file=sys.stderr)  # fmt: skip
    embedder = load_embedder(None, args.batch_size, True, "onnx")
    fp32 = embedder.document_encoder()
    if fp32 is None:
        sys.exit("the ONNX document encoder failed its check against PyTorch")
    query_vectors = np.stack([embedder.embed_query(q) for q in queries]) if queries else np.zeros((0, 384))
    warm = texts[: args.batch_size * 2]

    def pytorch(batch: list[str]) -> np.ndarray:
        return embedder.model.encode(
            batch, batch_size=args.batch_size, normalize_embeddings=True, show_progress_bar=False
        )

    encoders: dict[str, Any] = {
        "pytorch (sentence-transformers)": pytorch,
        "onnx fp32 (ours)": lambda batch: fp32.encode(batch, args.batch_size, no_turn),
    }
    if args.int8:
        for name, session in int8_sessions(embedder.model, torch.get_num_threads()).items():
            encoder = OnnxDocumentEncoder(session, embedder.model.tokenizer, embedder.max_seq_length, fp32.dimension)
            encoders[name] = lambda batch, encoder=encoder: encoder.encode(batch, args.batch_size, no_turn)

    results, reference = {}, None
    for name, encode in encoders.items():
        encode(warm)
        started = time.perf_counter()
        vectors = np.asarray(encode(texts), dtype=np.float32)
        seconds = time.perf_counter() - started
        reference = vectors if reference is None else reference
        cosines = np.sum(vectors * reference, axis=1)
        results[name] = {
            "texts_per_s": round(len(texts) / seconds, 2),
            "cosine_min": round(float(cosines.min()), 6),
            "cosine_mean": round(float(cosines.mean()), 6),
            "ndcg_at_10": round(ndcg_at_10(query_vectors, vectors, relevant), 4),
        }
        print(f"  {name}: {seconds:.1f}s", file=sys.stderr)
    base = results["pytorch (sentence-transformers)"]["texts_per_s"]
    print(f"\n{'encoder':<34}{'texts/s':>9}{'x pytorch':>11}{'cos min':>10}{'cos mean':>10}{'nDCG@10':>9}")
    for name, r in results.items():
        r["speed_vs_pytorch"] = round(r["texts_per_s"] / base, 3)
        print(f"{name:<34}{r['texts_per_s']:>9.1f}{r['speed_vs_pytorch']:>11.3f}{r['cosine_min']:>10.6f}"
              f"{r['cosine_mean']:>10.6f}{r['ndcg_at_10']:>9.4f}")  # fmt: skip
    if args.json:
        print(json.dumps({"docs": len(texts), "queries": len(queries), "batch_size": args.batch_size, **results}))


if __name__ == "__main__":
    main()
