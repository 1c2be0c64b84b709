"""Portable bundles: `rag export` and `rag import --as` against the time the collection's ingestion takes,
and their peak memory against the collection's size.

    .venv/bin/python benchmarks/bundles.py --data-dir /tmp/scale/c100k --collection bench-100k --build 10000
    .venv/bin/python benchmarks/bundles.py --build 300 --sample-chunks 20 --json      # smoke run (tests)

For each collection (the one named by `--data-dir DIR --collection NAME`, and one synthetic collection per
`--build N`: search.py's chunks of 120 Zipf-distributed words with random unit vectors, 100 per document):

1. its data dir is copied into a scratch dir (`--in-place` skips the copy), so the collection given is never
   written to;
2. `rag export NAME FILE` runs as a real subprocess (`python -m cli`, this checkout's code): wall seconds,
   peak RSS (the child's own high-water mark), the archive's size;
3. `rag import FILE --as COPY` runs the same way into a fresh, empty data dir (another machine), and the
   chunk count it reports must be the collection's.

The baseline is ingesting the same kind of chunks in the same run: `--sample-chunks` chunk texts read from
the first collection are written as text files (one per document, its chunks as paragraphs) and ingested
through `IngestPipeline` into a scratch data dir, after the embedder and chunker are loaded and warmed up
(so model loading flatters the baseline, not the bundles). The collection's ingestion time is extrapolated
from that rate, both per chunk and per character of text; the SHORTER of the two is the baseline, so the
ratios are the strict ones. Target (issue 26): export and import each <= 10% of the ingestion time, and
peak RSS that does not grow with the collection (compare the rows: the vectors alone are shown, in MB).
Run with `nice -n 10` on a shared machine: other work swings wall times, not the ratios' order of magnitude.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from search import COLLECTION as BUILT_COLLECTION  # noqa: E402
from search import build_corpus  # noqa: E402

from rag.config import Settings  # noqa: E402

TARGET_RATIO = 0.10
MB = 1024 * 1024


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    stdout: str


@dataclass
class Figures:
    collection: str
    chunks: int
    documents: int
    data_dir_mb: float
    vectors_mb: float
    archive_mb: float
    export_s: float
    export_peak_rss_mb: float
    import_s: float
    import_peak_rss_mb: float
    ingest_s: float  # extrapolated from the sample's rate
    export_ratio: float
    import_ratio: float


def run_measured(args: list[str], data_dir: Path, scratch: Path) -> Run:
    """`python -m cli ARGS` on `data_dir`: wall seconds and the child's peak RSS.

    The peak is the kernel's high-water mark of the child's own address space (VmHWM, reset by exec), read
    every 20 ms until it exits. Not `ru_maxrss`: a forked child carries the RSS its parent had at the fork
    into that figure, and this process holds the embedder it measured ingestion with. Output goes to files:
    a pipe would need `communicate`, which reaps the child while we still read its status."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_DATA_DIR": str(data_dir), "TMPDIR": str(scratch)}
    out_path, err_path = scratch / "stdout.txt", scratch / "stderr.txt"
    peak_kb = 0
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "cli", *args], env=env, cwd=scratch, stdout=out, stderr=err)
        status_file = Path(f"/proc/{child.pid}/status")
        while True:
            try:
                for line in status_file.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
            except OSError:
                pass  # between exit and reaping the file may be gone or say nothing
            if child.poll() is not None:
                break
            time.sleep(0.02)
        seconds = time.perf_counter() - started
    stdout = out_path.read_text(encoding="utf-8", errors="replace")
    if child.returncode != 0:
        stderr = err_path.read_text(encoding="utf-8", errors="replace")
        sys.exit(f"rag {' '.join(args)} failed ({child.returncode}):\n{stdout[-2000:]}\n{stderr[-4000:]}")
    return Run(seconds, peak_kb / 1024, stdout)


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / MB


def manifest_of(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive, mode="r|") as tar:
        first = tar.next()
        handle = tar.extractfile(first) if first is not None else None
        return json.loads(handle.read()) if handle is not None else {}


def sample_texts(data_dir: Path, collection: str, wanted: int) -> list[list[str]]:
    """The first documents' chunk texts, `wanted` chunks in all (whole documents, at least one)."""
    from rag.retrieval.keyword import open_keyword_index
    from rag.storage.registry import open_registry

    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    keyword, registry = open_keyword_index(settings), open_registry(settings)
    documents: list[list[str]] = []
    for document in registry.documents(collection):
        documents.append([c.text for c in keyword.document_chunks(collection, document.document_id)][:wanted])
        wanted -= len(documents[-1])
        if wanted <= 0:
            break
    return documents


def ingestion_rate(documents: list[list[str]], scratch: Path) -> dict[str, float]:
    """Chunks/s and characters/s of the normal pipeline over these texts, models loaded and warmed up first."""
    from ingest.loaders.base import LoadedDocument, Page
    from ingest.pipeline import Source
    from ingest.service import build_pipeline
    from rag.retrieval.components import build_components

    folder = scratch / "sample-docs"
    folder.mkdir()
    files = []
    for n, chunks in enumerate(documents):
        files.append(folder / f"sample-{n:04d}.txt")
        files[-1].write_text("\n\n".join(chunks), encoding="utf-8")
    settings = Settings(_env_file=None, data_dir=scratch / "sample-data")  # type: ignore[call-arg]
    components = build_components(settings)
    pipeline = build_pipeline(components)
    first = files[0].read_text(encoding="utf-8")
    pipeline.chunker.split(LoadedDocument([Page(first)]))  # loads its sentence tokenizer
    components.embedder.embed_documents(documents[0][:32])  # loads and warms the encoder
    started = time.perf_counter()
    results = pipeline.ingest([Source.from_path(p) for p in files], "sample")
    seconds = time.perf_counter() - started
    failed = [r for r in results if r.status != "ingested"]
    if failed:
        sys.exit(f"{len(failed)} sample file(s) not ingested, e.g. {failed[0]}")
    chunks = sum(r.chunks for r in results)
    characters = sum(len(t) for texts in documents for t in texts)
    return {"seconds": seconds, "source_chunks": sum(len(d) for d in documents), "chunks": chunks,
            "chunks_per_s": chunks / seconds, "chars_per_s": characters / seconds,
            "chars_per_source_chunk": characters / sum(len(d) for d in documents)}  # fmt: skip


def measure(source: Path, collection: str, copy_name: str, rate: dict[str, float], scratch: Path) -> Figures:
    """Export `collection` from the data dir `source`, import it into a fresh one; the figures."""
    from rag.storage.registry import open_registry

    archive = scratch / f"{collection}.tar"
    exported = run_measured(["export", collection, str(archive), "--json"], source, scratch)
    counts = json.loads(exported.stdout.strip().splitlines()[-1])
    imported = run_measured(["import", str(archive), "--as", copy_name, "--json"], scratch / "imported", scratch)
    loaded = json.loads(imported.stdout.strip().splitlines()[-1])
    if loaded["chunks"] != counts["chunks"]:
        sys.exit(f"the import loaded {loaded['chunks']} chunks of the export's {counts['chunks']}")
    settings = Settings(_env_file=None, data_dir=scratch / "imported")  # type: ignore[call-arg]
    if open_registry(settings).collection(copy_name) is None:
        sys.exit(f"the import did not create {copy_name!r}")
    dimension = manifest_of(archive)["embedder"]["dimension"]
    by_chunks = counts["chunks"] / rate["chunks_per_s"]
    by_chars = counts["chunks"] * rate["chars_per_source_chunk"] / rate["chars_per_s"]
    ingest_s = min(by_chunks, by_chars)  # the stricter baseline
    return Figures(
        collection=collection, chunks=counts["chunks"], documents=counts["documents"],
        data_dir_mb=folder_mb(source), vectors_mb=counts["chunks"] * dimension * 4 / MB,
        archive_mb=archive.stat().st_size / MB, export_s=exported.seconds, export_peak_rss_mb=exported.peak_rss_mb,
        import_s=imported.seconds, import_peak_rss_mb=imported.peak_rss_mb, ingest_s=ingest_s,
        export_ratio=exported.seconds / ingest_s, import_ratio=imported.seconds / ingest_s,
    )  # fmt: skip


def print_figures(rate: dict[str, float], rows: list[Figures]) -> None:
    print(f"ingestion baseline: {rate['chunks']} chunks (from {rate['source_chunks']} source chunks) in"
          f" {rate['seconds']:.1f} s = {rate['chunks_per_s']:.1f} chunks/s,"
          f" {rate['chars_per_s']:,.0f} chars/s")  # fmt: skip
    for row in rows:
        print(f"{row.collection}: {row.chunks:,} chunks in {row.documents:,} documents,"
              f" data dir {row.data_dir_mb:,.0f} MB"
              f" (vectors {row.vectors_mb:,.0f} MB), archive {row.archive_mb:,.0f} MB")  # fmt: skip
        print(f"  ingestion (extrapolated): {row.ingest_s:,.0f} s")
        print(f"  export: {row.export_s:.1f} s = {row.export_ratio:.3f} of ingestion, peak RSS"
              f" {row.export_peak_rss_mb:.0f} MB")  # fmt: skip
        print(f"  import: {row.import_s:.1f} s = {row.import_ratio:.3f} of ingestion, peak RSS"
              f" {row.import_peak_rss_mb:.0f} MB")  # fmt: skip
    # Judged on the largest collection: a small one's seconds are mostly the CLI's start (the embedder loads).
    largest = max(rows, key=lambda r: r.chunks)
    worst = max(largest.export_ratio, largest.import_ratio)
    print(f"target at {largest.chunks:,} chunks: export and import each <= {TARGET_RATIO:.2f} of ingestion"
          f" (worst {worst:.3f}: {'met' if worst <= TARGET_RATIO else 'NOT met'})")  # fmt: skip
    if len(rows) > 1:
        smallest = min(rows, key=lambda r: r.chunks)
        for label, small, large in [("export", smallest.export_peak_rss_mb, largest.export_peak_rss_mb),
                                    ("import", smallest.import_peak_rss_mb, largest.import_peak_rss_mb)]:  # fmt: skip
            grown = large - small
            per_chunk = grown * 1024 / max(largest.chunks - smallest.chunks, 1)
            print(f"{label} peak RSS {smallest.chunks:,} -> {largest.chunks:,} chunks: {small:.0f} -> {large:.0f} MB"
                  f" (+{grown:.0f} MB, {per_chunk:.2f} KB a chunk; the vectors alone are"
                  f" {largest.vectors_mb - smallest.vectors_mb:.0f} MB more)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="the data dir of an existing collection (never written to)")
    parser.add_argument("--collection", help="that collection's name")
    parser.add_argument("--build", type=int, action="append", default=[],
                        help="also measure a synthetic collection of N chunks (repeatable)")  # fmt: skip
    parser.add_argument("--build-dir", type=Path, help="keep the synthetic collections here between runs")
    parser.add_argument("--as", dest="copy_name", default="bench-copy", help="the name to import as")
    parser.add_argument("--sample-chunks", type=int, default=500, help="chunks ingested for the baseline rate")
    parser.add_argument("--in-place", action="store_true", help="export from --data-dir itself, not a copy")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if bool(args.data_dir) != bool(args.collection):
        parser.error("--data-dir and --collection go together")
    targets: list[tuple[Path, str, bool]] = []
    if args.data_dir:
        targets.append((args.data_dir, args.collection, args.in_place))
    work = Path(tempfile.mkdtemp(prefix="rag-bundles-"))
    try:
        for size in args.build:
            built = (args.build_dir or work / "built") / f"c{size}"
            started = time.perf_counter()
            build_corpus(built, size)
            print(f"synthetic collection of {size:,} chunks ready in {time.perf_counter() - started:.0f} s", flush=True)
            targets.append((built, BUILT_COLLECTION, True))  # our own copy: no need to copy it again
        if not targets:
            parser.error("name a collection (--data-dir DIR --collection NAME) or --build N")
        scratches = []
        for n, (data_dir, _, in_place) in enumerate(targets):
            scratches.append(work / f"run-{n}")
            scratches[-1].mkdir()
            if not in_place:  # the copy is read for the sample too: the collection given is never opened
                shutil.copytree(data_dir, scratches[-1] / "source", symlinks=True,
                                ignore=shutil.ignore_patterns("owner.lock"))  # fmt: skip
        sources = [d if in_place else s / "source" for (d, _, in_place), s in zip(targets, scratches, strict=True)]
        (work / "rate").mkdir()
        rate = ingestion_rate(sample_texts(sources[0], targets[0][1], args.sample_chunks), work / "rate")
        print(f"ingestion rate measured: {rate['chunks_per_s']:.1f} chunks/s", flush=True)
        rows = []
        for (_, name, _), source, scratch in zip(targets, sources, scratches, strict=True):
            rows.append(measure(source, name, args.copy_name, rate, scratch))
            shutil.rmtree(scratch)  # the copy, the archive and the imported collection
            print(f"measured {name} ({rows[-1].chunks:,} chunks)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_figures(rate, rows)
    if args.json:
        output: dict[str, Any] = {"ingestion": {k: round(v, 3) for k, v in rate.items()},
                                  "collections": [{k: round(v, 3) if isinstance(v, float) else v
                                                   for k, v in asdict(r).items()} for r in rows]}  # fmt: skip
        print(json.dumps(output))


if __name__ == "__main__":
    main()
