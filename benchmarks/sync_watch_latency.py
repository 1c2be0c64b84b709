"""Save-to-searchable latency of a watched folder source (issue 24's target: p95 <= 5 s over 20 edits).

In one process, as `rag serve` runs them: the pipeline, the job queue's runner thread, the folder watcher
(watchfiles) and the source store. A folder of ``--files`` files is synced once; then ``--edits`` times a file
is rewritten with a fresh code word and the clock runs until a keyword search of the collection finds that
word (polled every 20 ms). Prints each latency, the median and the p95.

    .venv/bin/python -m benchmarks.sync_watch_latency             # 20 edits in a folder of 200 files
    .venv/bin/python -m benchmarks.sync_watch_latency --edits 5

(`-m` from the repository root: run as a file, benchmarks/ingest.py would shadow the `ingest` package.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from ingest.jobs.runners import JobQueue
from ingest.service import build_pipeline
from ingest.synced_sources import SyncedSources
from ingest.watching import FolderWatcher
from rag.config import Settings
from rag.retrieval.components import build_components
from rag.storage.sources import open_source_store

FIRST_SYNC_TIMEOUT_S = 1800.0
EDIT_TIMEOUT_S = 120.0  # far past the 5 s target: an edit that never becomes searchable stops the run


def _finished(jobs: JobQueue, job_id: str | None) -> bool:
    job = jobs.get(job_id) if job_id else None
    return job is not None and job.status in ("done", "failed")


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not happen within {timeout_s:g} s")
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "share"
        folder.mkdir()
        for i in range(args.files):
            (folder / f"note{i:04d}.md").write_text(f"Note {i}: the desk answers request {i} within a day.")
        settings = Settings(_env_file=None, data_dir=Path(tmp) / "data")  # type: ignore[call-arg]
        components = build_components(settings)
        pipeline = build_pipeline(components)
        jobs = JobQueue.from_settings(pipeline, settings)
        sources = SyncedSources(open_source_store(settings), jobs.store, jobs.submit_sync)
        record = sources.add("bench", "folder", str(folder), {}, None)
        first = sources.sync("bench", record.id)
        _wait_for(lambda: _finished(jobs, first.id), "the first sync", FIRST_SYNC_TIMEOUT_S)

        def caught_up() -> bool:  # a newly watched folder syncs once: edits start after that sync
            current = sources.store.get(record.id)
            return current is not None and current.job_id != first.id and _finished(jobs, current.job_id)

        watcher = FolderWatcher(sources).start()
        _wait_for(caught_up, "the watcher's first sync", EDIT_TIMEOUT_S)
        latencies = []
        for edit in range(args.edits):
            word = f"zq{uuid.uuid4().hex[:10]}"
            saved = time.perf_counter()
            (folder / f"note{edit % args.files:04d}.md").write_text(f"Note {edit} now says the code word is {word}.")
            found = lambda word=word: bool(components.keyword.search("bench", word, 1))  # noqa: E731
            _wait_for(found, f"edit {edit}", EDIT_TIMEOUT_S)
            latencies.append(time.perf_counter() - saved)
            time.sleep(0.5)
        watcher.stop()
        jobs.stop()
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    figures = {"edits": args.edits, "files": args.files, "latencies_s": [round(x, 2) for x in latencies],
               "median_s": round(statistics.median(latencies), 2), "p95_s": round(p95, 2)}  # fmt: skip
    print(json.dumps(figures, indent=None if not args.json else 2))


if __name__ == "__main__":
    main()
