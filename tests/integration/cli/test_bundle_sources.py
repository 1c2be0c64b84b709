"""Portable bundles carry a collection's synced sources: a real folder and a real local git repository travel
with their items' sync state, so after `rag import` (real processes, a fresh SQLite data dir and PostgreSQL)
`rag sources list` shows them and their first sync reads no unchanged file, then picks up an edited and a
deleted one; a copy beside its original gets sources of its own; credentials stay behind; an old bundle
without sources still imports; a load that fails leaves no source behind. (The HTTP import's host and path
checks: test_bundles.py, test_admins_export_and_import_over_http_from_sqlite_into_postgresql.)"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from ingest.bundles.export import stage_bundle, write_bundle
from ingest.connectors import ConnectorContext, Item, open_connector
from ingest.jobs.sync_jobs import source_workdir
from ingest.pipeline import IngestPipeline
from ingest.synced_sources import add_source, remove_source
from ingest.syncing import sync_source
from rag.config import Settings
from rag.errors import Forbidden
from rag.storage.sources import SourceStore, open_source_store
from tests.integration.cli.test_bundles import _import, _manifest_edit, _rag, _rewritten
from tests.integration.sync.gitrepo import commit, new_repo

TEXT = "The {name} policy: employees file {name} requests in PeopleHub at least two weeks ahead."
NO_CHANGE = {"added": 0, "changed": 0, "removed": 0, "unchanged": 0, "failed": 0}


def _share(path: Path) -> Path:
    path.mkdir()
    for name in ("leave.md", "travel.txt", "expenses.md"):
        (path / name).write_text(TEXT.format(name=name.split(".")[0]))
    return path


def _sync_counting_reads(
    pipeline: IngestPipeline, store: SourceStore, source_id: str
) -> tuple[dict[str, int], list[str]]:
    """One sync of the source, in process; (its counts, the keys of the items whose content it read)."""
    record = store.get(source_id)
    assert record is not None
    context = ConnectorContext(record.id, source_workdir(pipeline.settings, record.id), record.cursor)
    connector = open_connector(record.kind, record.location, record.options, context)
    reads: list[str] = []
    real_read = connector.read

    def read(item: Item) -> bytes:  # a spy on the real connector: which items' bytes the sync asked for
        reads.append(item.key)
        return real_read(item)

    connector.read = read  # type: ignore[method-assign]
    return sync_source(record, connector, pipeline, store).counts, sorted(set(reads))


def _bundle(pipeline: IngestPipeline, tmp_path: Path) -> bytes:
    staging = tmp_path / "staging"
    staging.mkdir()
    out = io.BytesIO()
    write_bundle(stage_bundle(pipeline, open_source_store(pipeline.settings), "kb", staging), out)
    return out.getvalue()


def _member(bundle: bytes, name: str) -> str:
    with tarfile.open(fileobj=io.BytesIO(bundle)) as tar:
        handle = tar.extractfile(name)
        assert handle is not None
        return handle.read().decode()


def test_a_copy_beside_its_original_gets_its_own_sources_and_reads_only_what_changed(
    pipeline: IngestPipeline, tmp_path: Path
) -> None:
    share, store = _share(tmp_path / "share"), open_source_store(pipeline.settings)
    folder = add_source(store, "kb", "folder", str(share), {"exclude": ["*.tmp"]}, 3600)
    remote = "https://alice:s3cr3t-token@git.example.com/org/handbook.git"
    add_source(store, "kb", "git", remote, {"branch": "main"}, None)
    assert _sync_counting_reads(pipeline, store, folder.id)[0] == {**NO_CHANGE, "added": 3}

    bundle = _bundle(pipeline, tmp_path)
    travelled = _member(bundle, "sources.jsonl")
    assert "s3cr3t-token" not in travelled and "alice" not in travelled  # credentials never travel
    assert json.loads(_member(bundle, "manifest.json"))["counts"]["sources"] == 2

    assert _import(pipeline, bundle, tmp_path, "copy").sources == 2
    originals = {s.kind: s for s in store.sources("kb")}
    copies = {s.kind: s for s in store.sources("copy")}
    assert copies["folder"].id != folder.id and copies["git"].id != originals["git"].id  # the ids were taken
    assert copies["git"].location == "https://git.example.com/org/handbook.git"
    assert copies["folder"].location == str(share) and copies["folder"].options == {"exclude": ["*.tmp"]}
    assert copies["folder"].interval_s == 3600 and copies["folder"].next_run_at is not None
    assert {d.metadata["source_id"] for d in pipeline.registry.documents("copy")} == {copies["folder"].id}

    counts, reads = _sync_counting_reads(pipeline, store, copies["folder"].id)
    assert counts == {**NO_CHANGE, "unchanged": 3} and reads == []  # nothing read, nothing duplicated
    (share / "leave.md").write_text(TEXT.format(name="parental leave"))
    (share / "travel.txt").unlink()
    counts, reads = _sync_counting_reads(pipeline, store, copies["folder"].id)
    assert counts == {**NO_CHANGE, "changed": 1, "removed": 1, "unchanged": 1} and reads == ["leave.md"]
    assert len(pipeline.registry.documents("copy")) == 2 and len(pipeline.registry.documents("kb")) == 3

    assert remove_source(store, copies["folder"], pipeline, keep_documents=False) == 2  # the copy's own documents
    assert pipeline.registry.documents("copy") == [] and len(pipeline.registry.documents("kb")) == 3


def test_an_old_bundle_without_sources_imports_and_a_failed_load_leaves_no_source(
    pipeline: IngestPipeline, tmp_path: Path
) -> None:
    share, store = _share(tmp_path / "share"), open_source_store(pipeline.settings)
    folder = add_source(store, "kb", "folder", str(share), {}, None)
    _sync_counting_reads(pipeline, store, folder.id)
    bundle = _bundle(pipeline, tmp_path)

    def version_1(manifest: dict[str, Any]) -> None:
        manifest["version"] = 1
        del manifest["members"]["sources.jsonl"], manifest["counts"]["sources"]

    def old(name: str, data: bytes) -> bytes | None:
        return None if name == "sources.jsonl" else _manifest_edit(version_1)(name, data)

    loaded = _import(pipeline, _rewritten(bundle, old), tmp_path, "old")
    assert (loaded.documents, loaded.sources) == (3, 0) and store.sources("old") == []

    real_put_item = store.put_item
    calls = {"n": 0}

    def failing_put_item(*args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # fault injection: the database goes away while the sources are written
            raise OSError("connection lost")
        real_put_item(*args)

    store.put_item = failing_put_item  # type: ignore[method-assign]
    with pytest.raises(OSError):
        _import(pipeline, bundle, tmp_path, "broken", sources=store)
    store.put_item = real_put_item  # type: ignore[method-assign]
    assert not pipeline.registry.exists("broken") and store.sources("broken") == []

    with pytest.raises(Forbidden, match="RAG_SOURCE_ROOTS"):  # refused before anything is written
        _import(pipeline, bundle, tmp_path, "refused", sources=store, allowed_roots=[tmp_path / "elsewhere"])
    assert not pipeline.registry.exists("refused") and store.sources("refused") == []


def _sources(data: Path, database_url: str) -> dict[str, dict[str, Any]]:
    listed = _rag(data, "sources", "list", "kb", "--json", RAG_DATABASE_URL=database_url)
    assert listed.returncode == 0, listed.stderr
    return {s["kind"]: s for s in json.loads(listed.stdout)}


@pytest.mark.slow
def test_sources_travel_to_sqlite_and_postgresql_and_their_first_sync_reads_only_what_changed(
    tmp_path: Path, database_url: str
) -> None:
    share = _share(tmp_path / "share")
    repo = new_repo(tmp_path / "repo")
    commit(repo, {"guide.md": TEXT.format(name="guide"), "faq.md": TEXT.format(name="faq"),
                  "howto.md": TEXT.format(name="howto")})  # fmt: skip
    origin = tmp_path / "a"
    for args in (["folder", str(share), "--every", "1h"], ["git", str(repo), "--branch", "main"]):
        added = _rag(origin, "sources", "add", "kb", *args)
        assert added.returncode == 0, added.stderr
        synced = _rag(origin, "sources", "sync", "kb", added.stdout.strip(), "--json")
        assert synced.returncode == 0 and json.loads(synced.stdout)["counts"]["added"] == 3, synced.stderr
    exported = _rag(origin, "export", "kb", str(tmp_path / "kb.tar"), "--json")
    assert exported.returncode == 0 and json.loads(exported.stdout)["sources"] == 2, exported.stderr
    before = _sources(origin, "")

    targets = [(tmp_path / "b", ""), (tmp_path / "c", database_url)]
    for data, url in targets:
        imported = _rag(data, "import", str(tmp_path / "kb.tar"), "--json", RAG_DATABASE_URL=url)
        assert imported.returncode == 0 and json.loads(imported.stdout)["sources"] == 2, imported.stderr
        after = _sources(data, url)
        for kind in ("folder", "git"):  # a fresh service: the same ids, so their documents' ids still match
            keep = ("id", "location", "options", "every_s", "synced_at", "counts")
            assert {k: after[kind][k] for k in keep} == {k: before[kind][k] for k in keep}
        settings = Settings(_env_file=None, data_dir=data, database_url=url)  # type: ignore[call-arg]
        from ingest.service import build_pipeline
        from rag.retrieval.components import build_components

        pipeline, store = build_pipeline(build_components(settings)), open_source_store(settings)
        for kind in ("folder", "git"):
            counts, reads = _sync_counting_reads(pipeline, store, after[kind]["id"])
            assert counts == {**NO_CHANGE, "unchanged": 3} and reads == [], (url, kind)

    (share / "leave.md").write_text(TEXT.format(name="parental leave"))
    (share / "travel.txt").unlink()
    commit(repo, {"guide.md": TEXT.format(name="new guide"), "faq.md": None})
    for data, url in targets:
        for source in _sources(data, url).values():
            synced = _rag(data, "sources", "sync", "kb", source["id"], "--json", RAG_DATABASE_URL=url)
            assert synced.returncode == 0, synced.stderr
            assert json.loads(synced.stdout)["counts"] == {**NO_CHANGE, "changed": 1, "removed": 1, "unchanged": 1}
        listed = _rag(data, "docs", "list", "-c", "kb", "--json", RAG_DATABASE_URL=url)
        assert len(json.loads(listed.stdout)) == 4, (url, listed.stdout)
