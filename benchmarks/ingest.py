"""Ingestion throughput: our pipeline end to end vs raw encoder throughput vs LlamaIndex.

What it measures, all in one process, so that CPU load from other work hits every run alike:

1. **ours** -- ``IngestPipeline.ingest`` end to end over a fresh data dir: reading the files from disk,
   parsing, chunking, embedding, Chroma + keyword index + registry. chunks/s = chunks stored / seconds.
   Once per document encoder in ``--encoders`` (default ONNX Runtime, then PyTorch: before and after
   in the same run).
2. **raw encode** -- ``SentenceTransformer.encode`` alone (the same weights, normalized, numpy) on exactly
   the chunk texts our pipeline stored, in one call, at each of ``--raw-batches`` (8, 32, 64); the
   fastest is the baseline, so that a small baseline batch cannot flatter us. The anchor to beat: the
   encoder is the bottleneck on a CPU and everything else should hide behind it.
3. **llama-index** (the peer) -- ``SimpleDirectoryReader(dir).load_data()`` +
   ``VectorStoreIndex.from_documents`` into a fresh embedded Chroma, with the same MiniLM weights through
   ``HuggingFaceEmbedding`` and LlamaIndex's defaults otherwise (node parser, 1024-token chunks,
   ``embed_batch_size=10``). Its node count is printed next to ours: with its defaults one SciFact
   abstract is one node, and everything past the model's 256 tokens is truncated by the encoder, so it
   embeds less text than we do. ``--peer-matched`` adds an informative second peer run with our
   chunking (SentenceSplitter in the embedder's tokens, same size and overlap).

The corpus is the first ``--docs`` BEIR SciFact abstracts (title, blank line, text) written as ``.txt``
files into a temp dir at run time (the data is CC BY-NC: it is read from shared/, never copied into the
repo). Model loading is excluded from every timing, and a warm-up encode of 64 texts runs through each
model (and one document through our chunker, whose first call loads its sentence tokenizer) before
anything is timed. With ``--repeat N`` every measurement runs N times, one of each per
round in a rotated order, and medians are reported: other work on the machine can swing a single run
by 2x, so use ``--repeat 3`` for figures you mean to quote. Wall seconds are the figures; process CPU
seconds are shown beside them (a CPU second spent outside the encoder is one the encoder lacks on a
machine whose cores torch already uses).

Targets:
- ours chunks/s / fastest raw encode chunks/s >= 1.3 (parsing, chunking and storage hidden behind an
  encoder faster than the one it wraps);
- ours >= 1.3x faster than llama-index on the same corpus (wall time; the chunks/s ratio is shown too).

Run from the repo root (needs the ``bench`` extra: llama-index-vector-stores-chroma and
llama-index-embeddings-huggingface; SciFact under ../shared/eval/scifact or ``--scifact DIR``)::

    .venv/bin/python benchmarks/ingest.py                  # 1000 abstracts, ~2,200 chunks, a few minutes
    .venv/bin/python benchmarks/ingest.py --repeat 3 --peer-matched --json
    .venv/bin/python benchmarks/ingest.py --docs 200 --no-peer
    .venv/bin/python benchmarks/ingest.py --docs 5 --no-peer --raw-batches 8   # smoke run (tests)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Nothing may be fetched at run time: every model loads from a local path.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

# This file is named like the `ingest` package: the repo root must come before benchmarks/ on sys.path.
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

COLLECTION = "bench"
MIN_CHUNKS = 2000
RATIO_TARGET = 1.3
PEER_TARGET = 1.3
WARMUP_TEXTS = 64


class Timer:
    """Wall and whole-process CPU seconds of a block."""

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def write_corpus(scifact: Path, docs: int, out_dir: Path) -> list[Path]:
    corpus = scifact / "corpus.jsonl"
    if not corpus.is_file():
        sys.exit(f"SciFact corpus not found: {corpus} (pass --scifact DIR)")
    files = []
    with corpus.open(encoding="utf-8") as fh:
        for line in fh:
            if len(files) >= docs:
                break
            row = json.loads(line)
            text = f"{row.get('title', '').strip()}\n\n{row.get('text', '').strip()}".strip()
            if not text:
                continue
            path = out_dir / f"{row['_id']}.txt"
            path.write_text(text + "\n", encoding="utf-8")
            files.append(path)
    return files


def run_ours(files: list[Path], data_dir: Path, batch_size: int, encoder: str) -> dict[str, Any]:
    """One end-to-end ingest over a fresh data dir; returns timings and the stored chunk texts in order."""
    from ingest.loaders.base import LoadedDocument, Page
    from ingest.pipeline import Source
    from ingest.service import build_pipeline
    from rag.config import Settings
    from rag.retrieval.components import build_components
    from rag.storage.vectors import chroma_collection_name

    settings = Settings(_env_file=None, data_dir=data_dir, embedding_batch_size=batch_size, document_encoder=encoder)
    components = build_components(settings)  # reuses the cached, already loaded embedder
    pipeline = build_pipeline(components)
    # Warm-up, as for the models: the first split imports and loads the sentence tokenizer (~0.5 s).
    pipeline.chunker.split(LoadedDocument([Page(files[0].read_text(encoding="utf-8"))]))

    with Timer() as timer:
        results = pipeline.ingest([Source.from_path(p) for p in files], COLLECTION)

    failed = [r for r in results if r.status != "ingested"]
    if failed:
        sys.exit(f"{len(failed)} file(s) not ingested, e.g. {failed[0]}")
    texts: list[str] = []
    for result in results:
        texts.extend(c.text for c in components.keyword.document_chunks(COLLECTION, result.document_id))
    chunks = sum(r.chunks for r in results)
    if chunks != len(texts):
        sys.exit(f"the pipeline reported {chunks} chunks but the keyword index holds {len(texts)}")
    # Chroma knows the collection by the storage layer's internal id, not by the name it was given.
    stored = components.store.client.get_collection(chroma_collection_name(COLLECTION)).count()
    if stored != chunks:
        sys.exit(f"the pipeline reported {chunks} chunks but Chroma holds {stored}")
    return {"chunks": chunks, "wall": timer.wall, "cpu": timer.cpu, "texts": texts, "embedder": components.embedder}


def run_raw(model: Any, texts: list[str], batch_size: int) -> Timer:
    with Timer() as timer:
        model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
    return timer


def load_peer_embedding(model_path: str) -> Any:
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core.llms import MockLLM
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    embed_model = HuggingFaceEmbedding(model_name=model_path, device="cpu", local_files_only=True)
    # No LLM is needed to build an index; make sure nothing reaches for OpenAI's defaults.
    LlamaSettings.llm = MockLLM()
    LlamaSettings.embed_model = embed_model
    return embed_model


def run_peer(
    corpus_dir: Path, chroma_dir: Path, embed_model: Any, transformations: list[Any] | None = None
) -> dict[str, Any]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    client = chromadb.PersistentClient(path=str(chroma_dir), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection(COLLECTION)
    storage_context = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    extra = {"transformations": transformations} if transformations is not None else {}

    with Timer() as timer:
        documents = SimpleDirectoryReader(str(corpus_dir)).load_data()
        VectorStoreIndex.from_documents(documents, storage_context=storage_context, embed_model=embed_model, **extra)
    return {"chunks": collection.count(), "wall": timer.wall, "cpu": timer.cpu, "client": client}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _row(name: str, chunks: int, wall: float, cpu: float, docs: int) -> dict[str, Any]:
    return {
        "run": name,
        "chunks": chunks,
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "chunks_per_s": round(chunks / wall, 2),
        "docs_per_s": round(docs / wall, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000, help="SciFact abstracts to ingest (default 1000)")
    parser.add_argument(
        "--scifact",
        type=Path,
        default=REPO_ROOT.parent / "shared" / "eval" / "scifact",
        help="BEIR SciFact directory holding corpus.jsonl (default ../shared/eval/scifact from the repo root)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every measurement; medians reported")
    parser.add_argument("--batch-size", type=int, default=None, help="our encoder batch size (default: Settings)")
    parser.add_argument(
        "--encoders",
        default="onnx,pytorch",
        help="document encoders our pipeline runs with (RAG_DOCUMENT_ENCODER), comma-separated; the first is ours",
    )
    parser.add_argument(
        "--raw-batches",
        default="8,32,64",
        help="batch sizes raw SentenceTransformer.encode runs with; the fastest is the baseline",
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the llama-index runs")
    parser.add_argument(
        "--peer-matched",
        action="store_true",
        help="also run llama-index with our chunking (SentenceSplitter in the embedder's tokens, same size/overlap)",
    )
    parser.add_argument("--json", action="store_true", help="also print one JSON object with every figure")
    args = parser.parse_args(argv)
    encoders = [e.strip() for e in args.encoders.split(",") if e.strip()]
    raw_batches = [int(b) for b in args.raw_batches.split(",") if b.strip()]

    import torch

    from rag.config import Settings
    from rag.retrieval.embeddings import default_embedding_model_path, load_embedder

    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        tmp_path = Path(tmp)
        corpus_dir = tmp_path / "corpus"
        corpus_dir.mkdir()
        files = write_corpus(args.scifact, args.docs, corpus_dir)
        corpus_bytes = sum(p.stat().st_size for p in files)
        log(f"corpus: {len(files)} SciFact abstracts, {corpus_bytes / 1e6:.2f} MB")

        # Load every model before anything is timed, then warm each one up on the same texts.
        base = Settings(_env_file=None, data_dir=tmp_path / "unused")
        batch_size = args.batch_size or base.embedding_batch_size
        warm = [p.read_text(encoding="utf-8") for p in files[:WARMUP_TEXTS]]
        embedders = {}
        for encoder in encoders:
            embedders[encoder] = load_embedder(base.embedding_model, batch_size, base.onnx_queries, encoder)
            embedders[encoder].embed_documents(warm)  # also exports and checks the ONNX graph
            used = "onnx" if embedders[encoder].document_encoder() is not None else "pytorch"
            if used != encoder:
                sys.exit(f"asked for the {encoder} document encoder, the embedder uses {used}")
        embedder = embedders[encoders[0]]
        raw_model = embedder.model  # the same weights every embedder loaded
        raw_model.encode(warm, batch_size=max(raw_batches), normalize_embeddings=True, show_progress_bar=False)
        peer_embed = None
        if not args.no_peer:
            peer_embed = load_peer_embedding(base.embedding_model or default_embedding_model_path())
            peer_embed.get_text_embedding_batch(warm)

        splitter = None
        if peer_embed is not None and args.peer_matched:
            from llama_index.core.node_parser import SentenceSplitter

            splitter = SentenceSplitter(
                chunk_size=base.chunk_size_tokens, chunk_overlap=base.chunk_overlap_tokens, tokenizer=embedder.tokenize
            )

        # Each round runs every measurement once, in a rotated order, so that a burst of other load on the
        # machine does not land on one of them only. The first round starts with ours: it yields the texts.
        steps = [f"ours:{e}" for e in encoders] + [f"raw:{b}" for b in raw_batches]
        steps += (["peer"] if peer_embed is not None else []) + (["matched"] if splitter else [])
        runs: dict[str, list[dict[str, Any]]] = {step: [] for step in steps}
        texts: list[str] = []
        for round_ in range(max(1, args.repeat)):
            shift = round_ % len(steps)
            for step in steps[shift:] + steps[:shift]:
                kind, _, variant = step.partition(":")
                if kind == "ours":
                    ours = run_ours(files, tmp_path / f"data-{variant}-{round_}", batch_size, variant)
                    if ours.pop("embedder") is not embedders[variant]:
                        sys.exit("the pipeline did not reuse the loaded embedder")
                    stored = ours.pop("texts")
                    if texts and stored != texts:
                        sys.exit("the pipeline stored different chunk texts in two runs")
                    texts = stored
                    runs[step].append(ours)
                elif kind == "raw":
                    timer = run_raw(raw_model, texts, int(variant))
                    runs[step].append({"chunks": len(texts), "wall": timer.wall, "cpu": timer.cpu})
                else:
                    transformations = [splitter] if step == "matched" else None
                    chroma_dir = tmp_path / f"{step}-chroma{round_}"
                    runs[step].append(run_peer(corpus_dir, chroma_dir, peer_embed, transformations))
                last = runs[step][-1]
                log(f"round {round_ + 1}: {step} {last['chunks']} chunks in {last['wall']:.2f}s")

        truncated = 0
        if runs.get("peer"):
            # With its defaults the peer's nodes can exceed what the encoder sees; count them (text alone).
            limit = embedder.max_seq_length - 2
            client = runs["peer"][-1].pop("client")
            stored_texts = client.get_collection(COLLECTION).get(include=["documents"])["documents"] or []
            truncated = sum(len(embedder.tokenize(t)) > limit for t in stored_texts)
        for peer_run in runs.get("peer", []) + runs.get("matched", []):
            peer_run.pop("client", None)

    def median(step: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[step])

    chunks = len(texts)
    docs = len(files)
    best_raw = min((f"raw:{b}" for b in raw_batches), key=lambda step: median(step, "wall"))
    raw_wall, raw_cpu = median(best_raw, "wall"), median(best_raw, "cpu")
    rows = [
        _row(f"ours ({e}, batch {batch_size})", chunks, median(f"ours:{e}", "wall"), median(f"ours:{e}", "cpu"), docs)
        for e in encoders
    ]
    rows += [_row(f"raw encode (batch {b})", chunks, median(f"raw:{b}", "wall"), median(f"raw:{b}", "cpu"), docs)
             for b in raw_batches]  # fmt: skip
    ours_wall, ours_cpu = median(steps[0], "wall"), median(steps[0], "cpu")
    ratio = raw_wall / ours_wall  # = ours chunks/s / raw chunks/s: the same chunks
    figures: dict[str, Any] = {
        "docs": docs,
        "corpus_bytes": corpus_bytes,
        "torch_threads": torch.get_num_threads(),
        "batch_size": batch_size,
        "baseline": best_raw,
        "rounds": len(runs[steps[0]]),
        "all_seconds": {step: [round(r["wall"], 3) for r in rs] for step, rs in runs.items() if rs},
        "ratio_vs_raw": {"value": round(ratio, 3), "target": RATIO_TARGET, "pass": ratio >= RATIO_TARGET},
        "ratio_vs_raw_by_encoder": {e: round(raw_wall / median(f"ours:{e}", "wall"), 3) for e in encoders},
        "cpu_ratio_vs_raw": round(raw_cpu / ours_cpu, 3),
        "enough_chunks": chunks >= MIN_CHUNKS,
    }
    peer_chunks = matched_chunks = 0
    if runs.get("peer"):
        peer_chunks, peer_wall = runs["peer"][0]["chunks"], median("peer", "wall")
        rows.append(_row("llama-index (peer)", peer_chunks, peer_wall, median("peer", "cpu"), docs))
        speedup = peer_wall / ours_wall  # the same corpus end to end
        figures["speedup_vs_peer"] = {
            "value": round(speedup, 3),
            "chunks_per_s_ratio": round((chunks / ours_wall) / (peer_chunks / peer_wall), 3),
            "target": PEER_TARGET,
            "pass": speedup >= PEER_TARGET,
        }
        figures["peer_nodes_over_max_seq_length"] = truncated
    if runs.get("matched"):
        matched_chunks, matched_wall = runs["matched"][0]["chunks"], median("matched", "wall")
        rows.append(_row("llama-index, our chunks", matched_chunks, matched_wall, median("matched", "cpu"), docs))
        figures["speedup_vs_peer_matched"] = round(matched_wall / ours_wall, 3)
    figures["runs"] = rows

    print()
    print(f"Ingestion: {docs} SciFact abstracts ({corpus_bytes / 1e6:.2f} MB), {torch.get_num_threads()} torch"
          f" threads, median of {figures['rounds']} round(s)")  # fmt: skip
    print(f"{'run':<30}{'chunks':>8}{'seconds':>10}{'cpu s':>9}{'chunks/s':>10}{'docs/s':>9}")
    for r in rows:
        print(f"{r['run']:<30}{r['chunks']:>8}{r['seconds']:>10.2f}{r['cpu_seconds']:>9.1f}"
              f"{r['chunks_per_s']:>10.1f}{r['docs_per_s']:>9.1f}")  # fmt: skip
    print()
    verdict = "PASS" if ratio >= RATIO_TARGET else "FAIL"
    print(f"ours ({encoders[0]}) / fastest raw encode ({best_raw}) chunks/s: {ratio:6.3f}"
          f"   target >= {RATIO_TARGET:.2f}   {verdict}")  # fmt: skip
    for e in encoders[1:]:
        print(f"  ours ({e}) / fastest raw encode: {figures['ratio_vs_raw_by_encoder'][e]:6.3f}")
    print(f"  raw encode CPU s / ours CPU s {raw_cpu / ours_cpu:.3f} (less sensitive to other load on the machine)")
    if runs.get("peer"):
        s = figures["speedup_vs_peer"]
        verdict = "PASS" if s["pass"] else "FAIL"
        print(f"ours vs llama-index (same corpus):  {s['value']:6.3f}x  target >= {PEER_TARGET:.2f}x  {verdict}")
        print(f"  chunks/s ratio {s['chunks_per_s_ratio']:.3f}x; nodes: llama-index {peer_chunks}, ours {chunks}")
        print(f"  llama-index nodes over the encoder's {embedder.max_seq_length} tokens (truncated): >= {truncated}")
    if runs.get("matched"):
        print(f"ours vs llama-index with our chunking: {figures['speedup_vs_peer_matched']:.3f}x (informative)")
    if chunks < MIN_CHUNKS:
        print(f"warning: only {chunks} chunks (< {MIN_CHUNKS}); raise --docs")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
