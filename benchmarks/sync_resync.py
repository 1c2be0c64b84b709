"""A no-change resync of a folder source against its first sync (issue 24's target: <= 5 % of the first
ingestion's time, and no file content read).

Writes ``--files`` small Markdown files (one short paragraph each, ~1 chunk) into a temp folder, adds it as a
``folder`` source, times the first sync (every file read, chunked, embedded, stored) and then ``--resyncs``
syncs with nothing changed, in the same process over the same data dir. The connector is wrapped to count
``read`` calls: a no-change resync must read none. Then one file is edited and one deleted, and that sync is
timed too (it reads one file). Model loading is excluded (a warm-up encode runs first).

    .venv/bin/python -m benchmarks.sync_resync                 # 2,000 files (-m: benchmarks/ingest.py shadows `ingest`)
    .venv/bin/python -m benchmarks.sync_resync --files 10000   # the issue's size (the first sync takes minutes)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from ingest.connectors import folder as folder_module
from ingest.jobs.sync_jobs import run_sync
from ingest.service import build_pipeline
from rag.config import Settings
from rag.retrieval.components import build_components
from rag.storage.sources import SourceRecord, open_source_store

TEXT = "Note {i}: the team {t} reviews request {i} every {d} and files the outcome in the ledger."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--resyncs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    reads = [0]
    original_read = folder_module.FolderConnector.read

    def counted_read(self: folder_module.FolderConnector, item: folder_module.Item) -> bytes:
        reads[0] += 1
        return original_read(self, item)

    folder_module.FolderConnector.read = counted_read  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp:
        root, folder = Path(tmp), Path(tmp) / "share"
        for i in range(args.files):
            path = folder / f"team{i % 20}" / f"note{i:05d}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(TEXT.format(i=i, t=i % 20, d=("Monday", "Friday")[i % 2]))
        settings = Settings(_env_file=None, data_dir=root / "data")  # type: ignore[call-arg]
        components = build_components(settings)
        components.embedder.embed_documents(["warm-up"] * 64)
        pipeline = build_pipeline(components)
        store = open_source_store(settings)
        store.add(SourceRecord("src-bench", "bench", "folder", str(folder), {}, created_at="2026-01-01"))

        def timed_sync() -> tuple[float, dict[str, int], int]:
            reads[0] = 0
            start = time.perf_counter()
            report = run_sync(store.get("src-bench"), pipeline, store)  # type: ignore[arg-type]
            return time.perf_counter() - start, report.counts, reads[0]

        first_s, first_counts, first_reads = timed_sync()
        resyncs = [timed_sync() for _ in range(args.resyncs)]
        (folder / "team0" / "note00000.md").write_text("Note 0 was rewritten: requests now go to the new desk.")
        (folder / "team1" / "note00001.md").unlink()
        change_s, change_counts, change_reads = timed_sync()
    resync_s = statistics.median(s for s, _, _ in resyncs)
    figures = {
        "files": args.files,
        "first_sync_s": round(first_s, 2),
        "first_counts": first_counts,
        "first_reads": first_reads,
        "no_change_resync_s_median": round(resync_s, 3),
        "no_change_resync_reads": [r for _, _, r in resyncs],
        "no_change_counts": resyncs[-1][1],
        "resync_over_first": round(resync_s / first_s, 4),
        "one_edit_one_delete_s": round(change_s, 3),
        "one_edit_one_delete_counts": change_counts,
        "one_edit_one_delete_reads": change_reads,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for name, value in figures.items():
        print(f"{name:30} {value}")


if __name__ == "__main__":
    main()
