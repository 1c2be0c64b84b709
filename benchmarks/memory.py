"""Memory that comes back: `rag serve`'s RSS before, during and after two large uploads are added and deleted.

    .venv/bin/python benchmarks/memory.py                      # the issue's sizes: 5 MB of HTML, 3 MB of Markdown
    .venv/bin/python benchmarks/memory.py --soak-minutes 60    # then a mixed loop, RSS printed each minute
    .venv/bin/python benchmarks/memory.py --html-mb 0.05 --markdown-mb 0.03 --searches 3   # a smoke run

Ingests sample_docs/ into "sample" in a fresh data dir, starts the real `rag serve` (RAG_ANSWER_MODE=extract:
answers quote the sources, so no model is loaded), warms it (a search, a query, a small upload and its
delete: what any server does in its first minute), records RSS, uploads the two generated files (varied
words, so the keyword index's vocabulary grows as a real corpus makes it), waits for their jobs, runs
searches and queries, deletes both and prints RSS at each step and the ratio end/start (target <= 1.10).
`--soak-minutes N` then loops searches, extract-mode answers, a ~200 KB upload and its delete, printing RSS
each minute and the drift (max/min over the loop, target <= 1.10).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server_rss import rss_mb  # noqa: E402

from tests.conftest import BIN, free_port, server_process  # noqa: E402

SYLLABLES = "ka lo mi ne ru ta vo xe zi pa qu bre sti dro fla gun".split()
QUESTIONS = ["How many days of annual leave do employees get?", "What does error E09 mean on the RX-200?",
             "When is customer support open?", "How long is the warranty?"]  # fmt: skip


def words(rng: random.Random, count: int) -> list[str]:
    """Made-up words from a large space (~16^3 stems and numbers), as a large real document's vocabulary."""
    return ["".join(rng.choices(SYLLABLES, k=rng.randint(1, 3))) + (str(rng.randint(0, 999)) if rng.random() < 0.1
            else "") for _ in range(count)]  # fmt: skip


def html_page(megabytes: float, seed: int = 1) -> bytes:
    rng, parts, size = random.Random(seed), ["<html><head><title>Large page</title></head><body>"], 0
    while size < megabytes * 1e6:
        paragraph = f"<h2>Section {len(parts)}</h2><p>{' '.join(words(rng, 120))}.</p>\n"
        parts.append(paragraph)
        size += len(paragraph)
    return ("".join(parts) + "</body></html>").encode()


def one_line_markdown(megabytes: float, seed: int = 2) -> bytes:
    rng = random.Random(seed)
    return ("# One line " + " ".join(words(rng, int(megabytes * 1e6 / 7)))).encode()


class Server:
    """The HTTP calls the benchmark makes, each waiting as long as a loaded machine needs."""

    def __init__(self, url: str, pid: int) -> None:
        self.http, self.pid = httpx.Client(base_url=url, timeout=600), pid

    def rss(self) -> float:
        return rss_mb(self.pid)

    def upload(self, name: str, data: bytes, content_type: str) -> None:
        answer = self.http.post("/v1/collections/sample/documents", files=[("files", (name, data, content_type))])
        answer.raise_for_status()
        if answer.status_code == 202:  # a job: wait for it
            job = answer.json()["job_id"]
            while (status := self.http.get(f"/v1/jobs/{job}").json())["status"] not in {"done", "failed", "cancelled"}:
                time.sleep(1)
            if status["status"] != "done" or status["failures"]:
                raise RuntimeError(f"upload of {name} ended {status['status']}: {status['failures']}")
        elif any(r["status"] == "failed" for r in answer.json()["results"]):
            raise RuntimeError(f"upload of {name} failed: {answer.json()}")

    def delete(self, name: str) -> None:
        self.http.delete(f"/v1/collections/sample/documents/{name}").raise_for_status()

    def search(self, query: str) -> None:
        self.http.post("/v1/search", json={"query": query, "collection": "sample"}).raise_for_status()

    def query(self, question: str) -> None:
        self.http.post("/v1/query", json={"question": question, "collection": "sample"}).raise_for_status()

    def traffic(self, rng: random.Random, searches: int) -> None:
        for i in range(searches):
            self.search(" ".join(words(rng, 3)) if i % 2 else rng.choice(QUESTIONS))
        for question in QUESTIONS[: max(1, searches // 5)]:
            self.query(question)


def settle(server: Server) -> float:
    """RSS once the server is idle: background work (BM25 refresh, job cleanup) is given two seconds."""
    time.sleep(2)
    return server.rss()


def run(server: Server, args: argparse.Namespace) -> dict[str, float]:
    rng, figures = random.Random(3), {"after start": server.rss()}
    server.traffic(rng, 2)
    server.upload("warm-up.md", b"# Warm-up\nA small upload, deleted again.", "text/markdown")
    server.delete("warm-up.md")
    figures["start (warmed)"] = settle(server)
    server.upload("large.html", html_page(args.html_mb), "text/html")
    figures[f"after the {args.html_mb:g} MB HTML page"] = settle(server)
    server.upload("one-line.md", one_line_markdown(args.markdown_mb), "text/markdown")
    figures[f"after the {args.markdown_mb:g} MB one-line Markdown"] = settle(server)
    server.traffic(rng, args.searches)
    figures[f"after {args.searches} searches and queries"] = settle(server)
    server.delete("large.html")
    server.delete("one-line.md")
    server.traffic(rng, 2)
    figures["after both deleted"] = settle(server)
    for step, mb in figures.items():
        print(f"RSS {step:<44} {mb:7.0f} MB", flush=True)
    ratio = figures["after both deleted"] / figures["start (warmed)"]
    print(f"end / start: {ratio:.3f} (target <= 1.10)", flush=True)
    return figures | {"ratio": ratio}


def soak(server: Server, minutes: float) -> dict[str, float]:
    rng, samples, started = random.Random(4), [], time.monotonic()
    next_sample, round_ = started, 0
    while time.monotonic() - started < minutes * 60:
        round_ += 1
        server.traffic(rng, 10)
        name = f"soak-{round_ % 3}.html"
        server.upload(name, html_page(0.2, seed=round_), "text/html")
        server.traffic(rng, 5)
        server.delete(name)
        if time.monotonic() >= next_sample:
            samples.append(server.rss())
            print(f"soak minute {len(samples) - 1:3d}: RSS {samples[-1]:7.0f} MB ({round_} rounds)", flush=True)
            next_sample += 60
    samples.append(settle(server))
    drift = max(samples) / min(samples)
    print(f"soak: {minutes:g} min, {round_} rounds, RSS min {min(samples):.0f} MB, max {max(samples):.0f} MB,"
          f" last {samples[-1]:.0f} MB; max/min {drift:.3f} (target <= 1.10)")  # fmt: skip
    return {"soak_minutes": minutes, "soak_rounds": round_, "soak_min_mb": min(samples),
            "soak_max_mb": max(samples), "soak_drift": drift}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--html-mb", type=float, default=5.0, help="size of the generated HTML page")
    parser.add_argument("--markdown-mb", type=float, default=3.0, help="size of the generated one-line Markdown")
    parser.add_argument("--searches", type=int, default=50, help="searches (and a fifth as many queries) between")
    parser.add_argument("--soak-minutes", type=float, default=0.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rag-memory-") as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
        # Uploads over 1 MiB become jobs the benchmark waits for: inline, the 5 MB page ingested for longer than a
        # client waits on a loaded machine (the same pipeline in the same process either way).
        env |= {"RAG_DATA_DIR": f"{folder}/data", "RAG_ANSWER_MODE": "extract", "RAG_SYNC_UPLOAD_BYTES": str(1 << 20)}
        subprocess.run([str(BIN / "rag"), "ingest", str(ROOT / "sample_docs"), "--collection", "sample"],
                       env=env, check=True, capture_output=True)  # fmt: skip
        port = free_port()
        command = [str(BIN / "rag"), "serve", "--port", str(port)]
        log = Path(folder) / "serve.log"
        with server_process(command, "/health", port, log, timeout=300, env=env, start_new_session=True) as url:
            pid = int(subprocess.check_output(["pgrep", "-n", "-f", f"serve --port {port}"]).split()[0])
            server = Server(url, pid)
            try:
                figures = run(server, args)
                if args.soak_minutes:
                    figures |= soak(server, args.soak_minutes)
            except httpx.HTTPStatusError:
                print(log.read_text(errors="replace")[-4000:], file=sys.stderr)  # the server's side of it
                raise
    if args.json:
        print(json.dumps({k: round(v, 3) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
