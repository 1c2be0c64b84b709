"""kill -9 in the middle of a sync, in a real process: the next sync ends in exactly the state a clean sync
reaches (every file once, nothing half-written, no vector or keyword chunk without its document)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from ingest.jobs.sync_jobs import run_sync
from ingest.service import build_pipeline
from rag.config import Settings
from rag.retrieval.components import build_components
from rag.retrieval.embeddings import SentenceTransformerEmbedder
from rag.storage.sources import SourceRecord
from rag.storage.sources.sqlite import SqliteSourceStore
from rag.storage.vectors import chroma_collection_name
from tests.conftest import ROOT
from tests.waiting import wait_until

FILES = 24
PARAGRAPH = "Section {i}.{j}: the {topic} rule number {j} says staff record every {topic} event in the ledger. "


def _folder(root: Path) -> dict[str, str]:
    """Files of ~8 chunks each, so the sync writes them over many encoder groups."""
    files = {}
    for i in range(FILES):
        name = f"team{i % 4}/doc{i:02d}.md"
        files[name] = "".join(PARAGRAPH.format(i=i, j=j, topic=f"topic{i}") * 3 + "\n\n" for j in range(20))
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(files[name])
    return files


def test_a_sync_killed_mid_way_converges_on_the_next_sync(
    settings: Settings, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "share"
    files = _folder(folder)
    store = SqliteSourceStore(settings.registry_db)
    store.add(SourceRecord("src-crash", "kb", "folder", str(folder), {}, created_at="2026-01-01"))
    script = textwrap.dedent(
        f"""
        import sys
        import time
        sys.path.insert(0, {str(ROOT)!r})
        from rag.config import Settings
        from rag.retrieval.components import build_components
        from ingest.service import build_pipeline
        from ingest.jobs.sync_jobs import run_sync
        from rag.storage.sources import open_source_store
        settings = Settings(_env_file=None, data_dir={str(settings.data_dir)!r})
        pipeline = build_pipeline(build_components(settings))
        store = open_source_store(settings)
        # Killed at a known point, however fast the machine: after the third file settles the sync waits
        # here (on a quiet machine it would otherwise finish between two looks of the test).
        put_item, settled = store.put_item, []
        def put_item_then_wait(source_id, key, marker, document_id):
            put_item(source_id, key, marker, document_id)
            if marker is not None:
                settled.append(key)
                if len(settled) == 3:
                    time.sleep(3600)
        store.put_item = put_item_then_wait
        run_sync(store.get("src-crash"), pipeline, store)
        print("finished")
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:

        def settled() -> int:
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:] if proc.stderr else ""  # type: ignore[union-attr]
            return sum(state.marker is not None for state in store.items("src-crash").values())

        wait_until(lambda: settled() >= 3, "the sync settled its first files")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    states = store.items("src-crash")
    assert proc.returncode == -signal.SIGKILL
    assert len(states) == FILES and any(s.marker is None for s in states.values())  # cut off mid-way

    pipeline = build_pipeline(build_components(settings))
    report = run_sync(store.get("src-crash"), pipeline, store)  # type: ignore[arg-type]
    assert report.counts["failed"] == 0 and report.counts["removed"] == 0
    assert sum(report.counts.values()) == FILES

    expected = {f"src-crash/{name}" for name in files}
    documents = pipeline.registry.documents("kb", status=None)
    assert sorted(d.document_id for d in documents) == sorted(expected)  # each once, none missing
    assert all(d.status == "ready" and d.pending_version is None for d in documents)
    keyword_ids = set()
    for document in documents:
        chunks = pipeline.keyword.document_chunks("kb", document.document_id)
        assert len(chunks) == document.chunk_count > 0
        assert f"topic{int(document.document_id[-5:-3])} " in chunks[0].text  # its own text, current
        keyword_ids |= {c.chunk_id for c in chunks}
    vectors = pipeline.store.client.get_collection(chroma_collection_name("kb")).get(include=[])["ids"]
    assert set(vectors) == keyword_ids  # no vector without its live chunk
    assert all(s.marker is not None for s in store.items("src-crash").values())
    assert run_sync(store.get("src-crash"), pipeline, store).counts["unchanged"] == FILES  # type: ignore[arg-type]
