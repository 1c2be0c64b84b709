"""Scale-out on real engines: one vs two API replicas, one vs two ingestion workers, and the visibility delay.
    .venv/bin/python benchmarks/scale_out.py [--documents 600] [--job-documents 240] [--duration 30] [--json]
Starts a real PostgreSQL (Debian's package, as the tests do) and a `chroma run` server in a temp dir, ingests
`--documents` SciFact abstracts (../shared/eval/scifact; sample_docs/ copies without it) with `rag ingest`, then:
1. search throughput at 8 clients against one `rag serve`, then against two replicas (clients alternate), each
   for `--duration` seconds with fresh SciFact queries; printed: requests/s, p50/p95, the ratio two/one,
   and the CPU milliseconds each search costs the servers (what would let more cores scale it);
2. ingestion throughput: `--job-documents` abstracts uploaded to `rag serve --no-ingest` as four jobs, drained
   by one `rag worker`, then (new collection) by two with half the cores' PyTorch threads each
   (RAG_WORKER_TORCH_THREADS); printed: documents/s, the ratio and the workers' CPU per document;
3. visibility: a document uploaded through one replica, searched for through the other every 20 ms; the
   delay from the upload's answer to the first search that finds it (median and max of 10).
On a 2-core machine every process shares the same two cores with the load generator: the ratios show how
much a second process can add here, the CPU cost per request what more cores would buy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import BIN, free_port, server_process  # noqa: E402
from tests.postgres import start_postgres  # noqa: E402

SCIFACT = ROOT.parent / "shared" / "eval" / "scifact"
CLIENTS = 8


def abstracts(limit: int, skip: int = 0) -> list[tuple[str, str]]:
    """(filename, text) of SciFact abstracts, or copies of the sample documents' text without SciFact."""
    if (SCIFACT / "corpus.jsonl").is_file():
        with (SCIFACT / "corpus.jsonl").open() as lines:
            rows = [json.loads(line) for _, line in zip(range(skip + limit), lines, strict=False)][skip:]
        return [(f"{row['_id']}.txt", f"{row['title']}\n\n{row['text']}") for row in rows]
    texts = [p.read_text(errors="replace") for p in sorted((ROOT / "sample_docs").glob("*.[mt][dx]*"))]
    return [(f"doc-{skip + i:05d}.txt", f"Copy {skip + i}.\n\n{texts[i % len(texts)]}") for i in range(limit)]


def queries(n: int) -> list[str]:
    if (SCIFACT / "queries.jsonl").is_file():
        with (SCIFACT / "queries.jsonl").open() as lines:
            texts = [json.loads(line)["text"] for line in lines]
    else:
        texts = ["annual leave days", "warranty period", "support hours", "password rules", "company founded"]
    return [random.Random(i).choice(texts) for i in range(n)]


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its children so far (/proc; Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


async def search_load(urls: list[str], collection: str, seconds: float) -> tuple[int, list[float]]:
    """CLIENTS clients searching for `seconds`, client i against urls[i % len(urls)]."""
    latencies: list[float] = []
    texts = queries(100_000)
    deadline = time.monotonic() + seconds

    async def client_loop(i: int, client: httpx.AsyncClient) -> None:
        n = i
        while time.monotonic() < deadline:
            body = {"query": texts[n % len(texts)], "collection": collection, "top_k": 5}
            n += CLIENTS
            started = time.perf_counter()
            response = await client.post(f"{urls[i % len(urls)]}/v1/search", json=body)
            response.raise_for_status()
            latencies.append(time.perf_counter() - started)

    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=CLIENTS)) as client:
        await asyncio.gather(*(client_loop(i, client) for i in range(CLIENTS)))
    return len(latencies), latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Cluster:
    """PostgreSQL + Chroma server + any number of `rag serve` / `rag worker` processes, stopped together."""

    def __init__(self, stack: ExitStack, folder: Path) -> None:
        self.stack, self.folder = stack, folder
        postgres = start_postgres(free_port())
        stack.callback(postgres.stop)
        self.database_url = postgres.create_database()
        chroma_port = free_port()
        chroma = [str(BIN / "chroma"), "run", "--path", str(folder / "chroma"), "--host", "127.0.0.1"]
        chroma += ["--port", str(chroma_port)]
        self.chroma_url = stack.enter_context(
            server_process(chroma, "/api/v2/heartbeat", chroma_port, folder / "chroma.log")
        )
        self.count = 0
        self.stoppers: dict[int, Callable[[], None]] = {}  # worker pid -> stop it

    def env(self, **extra: str) -> dict[str, str]:
        self.count += 1
        return {**os.environ, "RAG_DATA_DIR": str(self.folder / f"data-{self.count}"),
                "RAG_DATABASE_URL": self.database_url, "RAG_CHROMA_URL": self.chroma_url,
                "RAG_STAGING_DIR": str(self.folder / "staging"), "RAG_SYNC_UPLOAD_FILES": "0", **extra}  # fmt: skip

    def serve(self, *flags: str) -> tuple[str, int]:
        """A new replica: its URL and pid."""
        port = free_port()
        command = [str(BIN / "rag"), "serve", "--port", str(port), *flags]
        log = self.folder / f"serve-{port}.log"
        url = self.stack.enter_context(server_process(command, "/health", port, log, 600, env=self.env()))
        return url, self._pid_on(port)

    def worker(self, **env: str) -> int:
        """A new `rag worker`, once it is ready to claim (its model loading is not measured); its pid."""
        import subprocess

        path = self.folder / f"worker-{self.count}.log"
        log = open(path, "wb")  # noqa: SIM115 - closed with the stack
        self.stack.callback(log.close)
        command = [str(BIN / "rag"), "worker"]
        proc = subprocess.Popen(command, env=self.env(**env), stdout=log, stderr=subprocess.STDOUT)

        def stop() -> None:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()

        self.stack.callback(stop)
        self.stoppers[proc.pid] = stop
        deadline = time.monotonic() + 600
        while " ready: " not in path.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rag worker did not start: {path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        return proc.pid

    @staticmethod
    def _pid_on(port: int) -> int:
        """The pid of the process listening on `port` (ss from iproute2; Linux)."""
        import subprocess

        out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True).stdout
        return int(out.split("pid=")[1].split(",")[0])


def upload(url: str, collection: str, files: list[tuple[str, str]]) -> str:
    """One multipart upload; returns its job id (RAG_SYNC_UPLOAD_FILES=0: every upload is a job)."""
    parts = [("files", (name, text.encode(), "text/plain")) for name, text in files]
    response = httpx.post(f"{url}/v1/collections/{collection}/documents", files=parts, timeout=600)
    response.raise_for_status()
    return str(response.json()["job_id"])


def wait_for_jobs(url: str, job_ids: list[str], timeout: float = 3600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [httpx.get(f"{url}/v1/jobs/{job}", timeout=60).json()["status"] for job in job_ids]
        if all(s in ("done", "failed") for s in states):
            if "failed" in states:
                raise RuntimeError(f"a job failed: {states}")
            return
        time.sleep(0.2)
    raise TimeoutError("jobs did not finish")


def ingest_rate(url: str, collection: str, documents: list[tuple[str, str]]) -> float:
    httpx.post(f"{url}/v1/collections", json={"name": collection}, timeout=60).raise_for_status()
    quarter = len(documents) // 4
    started = time.monotonic()
    jobs = [upload(url, collection, documents[i * quarter : (i + 1) * quarter]) for i in range(4)]
    wait_for_jobs(url, jobs)
    return 4 * quarter / (time.monotonic() - started)


def visibility_delays(writer: str, reader: str, rounds: int = 10) -> list[float]:
    delays = []
    with httpx.Client(timeout=120) as client:
        for i in range(rounds):
            marker = f"zebrafinch{i}quokka"
            body = {"text": f"Field note {i}: the {marker} colony nests by the weir.", "filename": f"note-{i}.txt"}
            client.post(f"{writer}/v1/collections/visibility/documents", json=body).raise_for_status()
            returned = time.monotonic()
            while not any(
                marker in hit["text"]
                for hit in client.post(
                    f"{reader}/v1/search", json={"query": marker, "collection": "visibility"}
                ).json()["results"]
            ):
                if time.monotonic() - returned > 120:
                    raise TimeoutError(f"{marker} never became visible")
                time.sleep(0.02)
            delays.append(time.monotonic() - returned)
    return delays


@contextmanager
def cluster() -> Iterator[Cluster]:
    with tempfile.TemporaryDirectory(prefix="rag-scale-out-") as folder, ExitStack() as stack:
        yield Cluster(stack, Path(folder))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=600, help="abstracts in the searched collection")
    parser.add_argument("--job-documents", type=int, default=240, help="abstracts per ingestion run")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of search load per run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures: dict[str, object] = {}
    with cluster() as c:
        import subprocess

        seed = c.folder / "seed"
        seed.mkdir()
        for name, text in abstracts(args.documents):
            (seed / name).write_text(text)
        subprocess.run([str(BIN / "rag"), "ingest", str(seed), "-c", "corpus", "--json"], env=c.env(),
                       check=True, capture_output=True)  # fmt: skip

        # 1. Search: one replica, then two (both already running, so start-up is not measured).
        url_a, pid_a = c.serve()
        url_b, pid_b = c.serve()
        asyncio.run(search_load([url_a, url_b], "corpus", 5))  # warm both
        for label, urls, pids in (("one replica", [url_a], [pid_a]), ("two replicas", [url_a, url_b], [pid_a, pid_b])):
            cpu = sum(process_cpu_s(p) for p in pids)
            started = time.monotonic()
            count, latencies = asyncio.run(search_load(urls, "corpus", args.duration))
            elapsed = time.monotonic() - started
            cpu = sum(process_cpu_s(p) for p in pids) - cpu
            figures[label] = {
                "requests_per_s": round(count / elapsed, 1),
                "p50_ms": round(1000 * percentile(latencies, 0.5), 1),
                "p95_ms": round(1000 * percentile(latencies, 0.95), 1),
                "server_cpu_ms_per_search": round(1000 * cpu / count, 2),
            }
        one, two = figures["one replica"], figures["two replicas"]
        figures["search ratio two/one"] = round(two["requests_per_s"] / one["requests_per_s"], 2)  # type: ignore[index]

        # 3. Visibility between the replicas.
        httpx.post(f"{url_a}/v1/collections", json={"name": "visibility"}, timeout=60).raise_for_status()
        delays = visibility_delays(url_a, url_b)
        figures["visibility delay"] = {"median_ms": round(1000 * statistics.median(delays), 1),
                                       "max_ms": round(1000 * max(delays), 1)}  # fmt: skip

        # 2. Ingestion by workers, through a replica that only serves.
        front, _ = c.serve("--no-ingest")
        batch_one = abstracts(args.job_documents, skip=args.documents)
        batch_two = abstracts(args.job_documents, skip=args.documents + args.job_documents)
        first = c.worker()
        cpu = process_cpu_s(first)
        rate_one = ingest_rate(front, "ingest-one", batch_one)
        cpu_one = (process_cpu_s(first) - cpu) / len(batch_one)
        c.stoppers[first]()
        # Two workers share the cores: each takes its share of PyTorch threads (RAG_WORKER_TORCH_THREADS).
        threads = str(max(1, (os.cpu_count() or 2) // 2))
        pids = [c.worker(RAG_WORKER_TORCH_THREADS=threads), c.worker(RAG_WORKER_TORCH_THREADS=threads)]
        cpu = sum(process_cpu_s(p) for p in pids)
        rate_two = ingest_rate(front, "ingest-two", batch_two)
        cpu_two = (sum(process_cpu_s(p) for p in pids) - cpu) / len(batch_two)
        figures["ingestion documents/s"] = {"one worker": round(rate_one, 2), "two workers": round(rate_two, 2),
                                            "ratio": round(rate_two / rate_one, 2),
                                            "worker_cpu_ms_per_document": [round(1000 * cpu_one, 1),
                                                                           round(1000 * cpu_two, 1)]}  # fmt: skip
    figures["load average"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
