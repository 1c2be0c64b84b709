"""A large collection on one machine: build time, start-to-ready, server RSS and 1-client p95 of /v1/search.

    .venv/bin/python benchmarks/million.py --chunks 1000000 --data-dir DIR          # the whole service
    .venv/bin/python benchmarks/million.py --chunks 1000000 --data-dir DIR --keyword-only
    RAG_DATABASE_URL=postgresql://... .venv/bin/python benchmarks/million.py --data-dir DIR --rows-only   # PostgreSQL

Builds the synthetic collection of benchmarks/search.py (random unit vectors straight into Chroma, keyword rows
straight into the store: no encoder, which would take days) or reuses the one in DIR, then starts `rag serve`
`--starts` times. The first start builds the keyword index from the rows and saves it (rag/retrieval/bm25_file.py),
later ones open the saved files: each start prints seconds to /health, seconds to the first search answered
(the service is ready), the server's RSS after the searches, and p50/p95 of `--requests` searches at 1 client.
`--keyword-only` writes no vectors and starts no server: it loads the keyword index in a fresh process per start
and prints its load time and RSS (what a million chunks cost the keyword index alone, in minutes of building).
With RAG_DATABASE_URL set the registry and keyword rows go to PostgreSQL (the keyword files are named by engine, so
one DIR serves both): `--rows-only` then reuses the vectors a SQLite build left in DIR's Chroma.
Targets (issue 27) at 1,000,000 chunks: ready <= 60 s, RSS <= 4 GB, p95 <= 60 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from search import COLLECTION, build_corpus, wait_for_health  # noqa: E402


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the server may run workers)."""
    total, pids = 0.0, [pid]
    while pids:
        current = pids.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pids += [int(c) for c in children]
    return total


def load_keyword_index(data_dir: Path) -> None:
    """In this (fresh) process: open the collection's keyword index and print its figures as JSON."""
    from rag.config import Settings
    from rag.retrieval.keyword import open_keyword_index

    keyword = open_keyword_index(Settings(_env_file=None, data_dir=data_dir))  # type: ignore[call-arg]
    started = time.perf_counter()
    keyword.warm([COLLECTION])
    seconds = time.perf_counter() - started
    rng = np.random.default_rng(5)
    words = list(keyword._bm25(COLLECTION)._word_terms)[:2000]
    times = []
    for _ in range(50):
        t0 = time.perf_counter()
        keyword.ranked(COLLECTION, " ".join(rng.choice(words, 5)), 100)
        times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({
        "load_s": round(seconds, 1), "rss_mb": round(rss_mb(os.getpid())),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "bm25_p95_ms": round(sorted(times)[int(len(times) * 0.95) - 1], 1),
    }))  # fmt: skip


def start_and_measure(data_dir: Path, port: int, requests: int, words: list[str]) -> dict:
    env = {**os.environ, "RAG_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port), "--workers", "1"], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    rng = np.random.default_rng(11)

    def body() -> dict:
        return {"query": " ".join(rng.choice(words[:2000], 5)), "collection": COLLECTION, "top_k": 5}

    try:
        wait_for_health(server, url, minutes=30)
        health_s = time.perf_counter() - started
        httpx.post(f"{url}/v1/search", json=body(), timeout=1800).raise_for_status()
        ready_s = time.perf_counter() - started
        with httpx.Client(timeout=120) as client:
            for _ in range(20):  # warm-up
                client.post(f"{url}/v1/search", json=body()).raise_for_status()
            ms = []
            for _ in range(requests):
                t0 = time.perf_counter()
                client.post(f"{url}/v1/search", json=body()).raise_for_status()
                ms.append((time.perf_counter() - t0) * 1000)
        rss = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
    ms.sort()
    return {
        "health_s": round(health_s, 1), "ready_s": round(ready_s, 1), "rss_mb": round(rss),
        "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(ms[int(len(ms) * 0.95) - 1], 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the collection here between runs")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--starts", type=int, default=2, help="the first builds the keyword files, later ones open them"
    )
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--keyword-only", action="store_true", help="no vectors, no server: the keyword index alone")
    parser.add_argument(
        "--rows-only", action="store_true",
        help="the vectors are in DIR's Chroma already (built with the other database engine): write only the rows,"
        " e.g. RAG_DATABASE_URL=postgresql://... after a SQLite build in the same DIR",
    )  # fmt: skip
    parser.add_argument("--load-keyword-index", action="store_true", help=argparse.SUPPRESS)  # the child's part
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="rag-million-"))
    if args.load_keyword_index:
        load_keyword_index(data_dir)
        return

    print(f"collection: {args.chunks:,} synthetic chunks in {data_dir}", flush=True)
    t0 = time.perf_counter()
    vectors_too = not (args.keyword_only or args.rows_only)
    words = build_corpus(data_dir, args.chunks, batch_docs=100, vectors_too=vectors_too)
    build_s = time.perf_counter() - t0
    print(f"build (or reuse): {build_s:.0f} s", flush=True)
    runs = []
    for start in range(args.starts):
        if args.keyword_only:
            child = subprocess.run(
                [sys.executable, __file__, "--load-keyword-index", "--data-dir", str(data_dir)],
                env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, check=True,
            )  # fmt: skip
            run = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"  start {start + 1}: keyword index loaded in {run['load_s']} s, RSS {run['rss_mb']} MB "
                  f"(peak {run['peak_rss_mb']} MB), BM25 p95 {run['bm25_p95_ms']} ms", flush=True)  # fmt: skip
        else:
            run = start_and_measure(data_dir, args.port, args.requests, words)
            print(f"  start {start + 1}: /health {run['health_s']} s, ready (first search) {run['ready_s']} s, "
                  f"RSS {run['rss_mb']} MB, 1 client p50 {run['p50_ms']} ms p95 {run['p95_ms']} ms",
                  flush=True)  # fmt: skip
        runs.append(run)
    last = runs[-1]
    if not args.keyword_only:
        print(f"  targets at 1M: ready <= 60 s ({last['ready_s']} s), RSS <= 4096 MB ({last['rss_mb']} MB), "
              f"p95 <= 60 ms ({last['p95_ms']} ms)")  # fmt: skip
    if args.json:
        print(json.dumps({"chunks": args.chunks, "build_s": round(build_s), "starts": runs}))


if __name__ == "__main__":
    main()
