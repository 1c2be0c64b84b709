"""Portable bundles on real parts: `rag export` from SQLite and embedded Chroma, `rag import` (real processes)
into PostgreSQL, and /v1/search answering the same ranked chunks with the same scores; every refusal (another
embedder, a changed member, a truncated archive, a name that exists, a path outside the bundle) leaves no
collection behind, and neither does a load that fails half-way."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ingest.bundles.load import Imported, load_bundle, receive_bundle
from ingest.pipeline import IngestPipeline, Source
from ingest.service import build_pipeline
from ingest.synced_sources import add_source
from rag.config import Settings
from rag.errors import Conflict, InvalidInput
from rag.retrieval.components import build_components
from rag.storage.sources import SourceStore, open_source_store
from tests.conftest import KNOWLEDGE, ROOT, api_client, make_pdf

QUESTIONS = ["annual leave days", "charging fault E09", "password length", "Which harbour has the deepest berth?"]
HARBOURS = make_pdf(["Harbours of the north.", "Port Alder has the deepest berth, 14 metres at low tide."])


def _rag(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "RAG_DATA_DIR": str(data_dir), "RAG_DATABASE_URL": "", **env}
    command = [sys.executable, "-m", "cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=900, cwd=ROOT)


def _ingest(settings: Settings, collection: str = "kb") -> IngestPipeline:
    pipeline = build_pipeline(build_components(settings))
    sources = [Source.from_bytes(n, t.encode()) for n, t in KNOWLEDGE.items()]
    results = pipeline.ingest([*sources, Source.from_bytes("harbours.pdf", HARBOURS)], collection)
    assert all(r.status == "ingested" for r in results), results
    return pipeline


def _searches(settings: Settings, collection: str) -> list[list[tuple[str, float]]]:
    with api_client(settings) as client:
        found = []
        for question in QUESTIONS:
            response = client.post("/v1/search", json={"query": question, "collection": collection, "top_k": 5})
            assert response.status_code == 200, response.text
            found.append([(r["chunk_id"], round(r["score"], 5)) for r in response.json()["results"]])
        original = client.get(f"/v1/collections/{collection}/documents/harbours.pdf/original")
        assert original.status_code == 200 and original.content == HARBOURS
    return found


@pytest.mark.slow
def test_a_collection_exported_from_sqlite_imports_into_postgresql_and_searches_the_same(
    tmp_path: Path, database_url: str
) -> None:
    source = Settings(_env_file=None, data_dir=tmp_path / "a")  # type: ignore[call-arg]
    _ingest(source)
    bundle = tmp_path / "kb.tar"
    exported = _rag(source.data_dir, "export", "kb", str(bundle), "--json")
    assert exported.returncode == 0, exported.stderr
    counts = json.loads(exported.stdout)
    assert (counts["collection"], counts["documents"], counts["originals"]) == ("kb", 4, 4) and counts["chunks"] >= 4
    imported = _rag(tmp_path / "b", "import", str(bundle), "--as", "kb-copy", "--json", RAG_DATABASE_URL=database_url)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["chunks"] == json.loads(exported.stdout)["chunks"]
    target = Settings(_env_file=None, data_dir=tmp_path / "b", database_url=database_url)  # type: ignore[call-arg]
    copied = _searches(target, "kb-copy")
    assert copied == _searches(source, "kb") and all(copied)

    again = _rag(tmp_path / "b", "import", str(bundle), "--as", "kb-copy", RAG_DATABASE_URL=database_url)
    assert again.returncode != 0 and "exists already" in again.stderr
    replaced = _rag(
        tmp_path / "b", "import", str(bundle), "--as", "kb-copy", "--replace", RAG_DATABASE_URL=database_url
    )
    assert replaced.returncode == 0, replaced.stderr


@pytest.fixture
def exported(tmp_path: Path, settings: Settings) -> tuple[IngestPipeline, bytes]:
    """A real collection and its bundle, written by the code `rag export` runs."""
    from ingest.bundles.export import stage_bundle, write_bundle

    pipeline = _ingest(settings)
    staging = tmp_path / "staging"
    staging.mkdir()
    out = io.BytesIO()
    write_bundle(stage_bundle(pipeline, open_source_store(pipeline.settings), "kb", staging), out)
    return pipeline, out.getvalue()


def _rewritten(
    bundle: bytes, edit: Callable[[str, bytes], bytes | None], extra: dict[str, bytes] | None = None
) -> bytes:
    """The bundle with each member's bytes passed through `edit` (None drops it), plus `extra` members."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r|") as source, tarfile.open(fileobj=out, mode="w|") as tar:
        for member in source:
            handle = source.extractfile(member)
            data = edit(member.name, handle.read() if handle else b"")
            if data is not None:
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _manifest_edit(change: Callable[[dict[str, Any]], None]) -> Callable[[str, bytes], bytes]:
    def edit(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        change(manifest)
        return json.dumps(manifest).encode()

    return edit


def _import(
    pipeline: IngestPipeline,
    bundle: bytes,
    tmp_path: Path,
    name: str = "copy",
    replace: bool = False,
    sources: SourceStore | None = None,
    allowed_roots: list[Path] | None = None,
) -> Imported:
    folder = tmp_path / f"receive-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    target, manifest = receive_bundle(pipeline, io.BytesIO(bundle), folder, name, replace)
    store = sources or open_source_store(pipeline.settings)
    return load_bundle(pipeline, folder, target, manifest, store, allowed_roots)


def _refused(pipeline: IngestPipeline, bundle: bytes, tmp_path: Path, error: type[Exception] = InvalidInput) -> str:
    with pytest.raises(error) as refused:
        _import(pipeline, bundle, tmp_path)
    assert not pipeline.registry.exists("copy")  # nothing of it was loaded
    return str(refused.value)


def test_each_damaged_bundle_is_refused_with_what_is_wrong_and_nothing_loaded(
    exported: tuple[IngestPipeline, bytes], tmp_path: Path
) -> None:
    pipeline, bundle = exported

    def other_embedder(manifest: dict[str, Any]) -> None:
        manifest["embedder"] = {"name": "bge-small-en", "dimension": 384}

    def other_dimension(manifest: dict[str, Any]) -> None:
        manifest["embedder"]["dimension"] = 768

    assert "bge-small-en" in _refused(pipeline, _rewritten(bundle, _manifest_edit(other_embedder)), tmp_path)
    assert "768 dimensions" in _refused(pipeline, _rewritten(bundle, _manifest_edit(other_dimension)), tmp_path)

    def changed_text(name: str, data: bytes) -> bytes:
        return data.replace(b"25 days", b"99 days") if name == "chunks.jsonl" else data

    assert "checksum mismatch in the bundle's member 'chunks.jsonl'" in _refused(
        pipeline, _rewritten(bundle, changed_text), tmp_path
    )
    assert "truncated" in _refused(pipeline, bundle[: len(bundle) // 2], tmp_path)
    assert "truncated" in _refused(
        pipeline, _rewritten(bundle, lambda n, d: None if n == "vectors.f32" else d), tmp_path
    )
    escape = _refused(pipeline, _rewritten(bundle, lambda n, d: d, {"../../escaped.txt": b"x"}), tmp_path)
    assert "'../../escaped.txt'" in escape and not (tmp_path.parent / "escaped.txt").exists()
    _import(pipeline, bundle, tmp_path)  # the bundle as exported loads
    assert pipeline.registry.exists("copy")
    with pytest.raises(Conflict, match="exists already"):
        _import(pipeline, bundle, tmp_path)
    _import(pipeline, bundle, tmp_path, replace=True)
    assert pipeline.registry.collection("copy").documents == 4  # type: ignore[union-attr]


def test_a_load_that_fails_half_way_leaves_no_collection(
    exported: tuple[IngestPipeline, bytes], tmp_path: Path
) -> None:
    pipeline, bundle = exported
    calls = {"n": 0}
    real_finish = pipeline.registry.finish

    def failing_finish(*args: Any, **kwargs: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 3:  # fault injection: the disk fills up on the third document
            raise OSError("No space left on device")
        return real_finish(*args, **kwargs)

    pipeline.registry.finish = failing_finish  # type: ignore[method-assign]
    with pytest.raises(OSError):
        _import(pipeline, bundle, tmp_path)
    pipeline.registry.finish = real_finish  # type: ignore[method-assign]
    assert not pipeline.registry.exists("copy")
    assert pipeline.keyword.count("copy") == 0 and pipeline.store.query("copy", _vector(pipeline), 5) == []


def _vector(pipeline: IngestPipeline) -> Any:
    return pipeline.embedder.embed_query("annual leave")


def test_admins_export_and_import_over_http_from_sqlite_into_postgresql(  # type: ignore[no-untyped-def]
    live_server, tmp_path: Path, database_url: str
) -> None:
    import httpx

    from rag.storage.keys import build_key_store

    source = Settings(_env_file=None, data_dir=tmp_path / "a")  # type: ignore[call-arg]
    _ingest(source)
    store = build_key_store(source)
    reader = {"Authorization": f"Bearer {store.create('reader', 'reader', None)}"}
    admin = {"Authorization": f"Bearer {store.create('admin', 'admin', None)}"}
    store.close()
    share, sources = tmp_path / "share", open_source_store(source)
    share.mkdir()
    add_source(sources, "kb", "folder", str(share), {}, None)
    remote = add_source(sources, "kb", "git", "https://bot:t0ken@git.example.com/org/handbook.git", {}, None)
    exporter = live_server(data_dir=tmp_path / "a")
    importer = live_server(data_dir=tmp_path / "b", database_url=database_url, api_keys="importer-admin",
                           source_roots=str(share), source_hosts="docs.example.org")  # fmt: skip
    with httpx.Client(timeout=600) as client:
        assert client.get(f"{exporter}/v1/collections/kb/export", headers=reader).status_code == 403
        download = client.get(f"{exporter}/v1/collections/kb/export", headers=admin)
        assert download.status_code == 200 and download.headers["content-type"] == "application/x-tar"
        into = {"Authorization": "Bearer importer-admin", "Content-Type": "application/octet-stream"}
        # Its git source is on a host the importer's API may not reach: as adding it there would be, refused.
        refused = client.post(f"{importer}/v1/imports", content=download.content, headers=into)
        assert refused.status_code == 403 and "traceId" in refused.json()["error"]
        assert "git.example.com" in refused.json()["error"]["message"] and "RAG_SOURCE_HOSTS" in refused.text
        assert "t0ken" not in refused.text  # nor did its credentials travel
        headers = {"Authorization": "Bearer importer-admin"}
        assert client.get(f"{importer}/v1/collections/kb", headers=headers).status_code == 404  # nothing loaded
        removed = client.delete(f"{exporter}/v1/collections/kb/sources/{remote.id}?keep_documents=true",
                                headers=admin)  # fmt: skip
        assert removed.status_code == 204
        download = client.get(f"{exporter}/v1/collections/kb/export", headers=admin)
        loaded = client.post(f"{importer}/v1/imports", content=download.content, headers=into)
        assert loaded.status_code == 201, loaded.text
        assert loaded.json()["collection"] == "kb" and loaded.json()["documents"] == 4
        assert loaded.json()["sources"] == 1  # the folder, under the importer's RAG_SOURCE_ROOTS
        listed = client.get(f"{importer}/v1/collections/kb/sources", headers=headers).json()["sources"]
        assert [(s["kind"], s["location"]) for s in listed] == [("folder", str(share))]
        again = client.post(f"{importer}/v1/imports", content=download.content, headers=into)
        assert again.status_code == 409 and "exists already" in again.json()["error"]["message"]
        damaged = client.post(f"{importer}/v1/imports?as=other", content=download.content[:5000],
                              headers=into)  # fmt: skip
        assert damaged.status_code == 400 and "truncated" in damaged.json()["error"]["message"]
        searches = []
        for url, headers in ((exporter, admin), (importer, {"Authorization": "Bearer importer-admin"})):
            found = []
            for question in QUESTIONS:
                body = {"query": question, "collection": "kb", "top_k": 5}
                results = client.post(f"{url}/v1/search", json=body, headers=headers).json()["results"]
                found.append([(r["chunk_id"], round(r["score"], 5)) for r in results])
            searches.append(found)
        assert searches[0] == searches[1] and all(searches[0])
