"""Deleting a collection while its jobs wait or run: the jobs are cancelled and nothing brings the collection back."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from ingest.collections import COLLECTION_DELETED, delete_collection
from ingest.jobs.runners import JobQueue, stage
from ingest.service import build_pipeline
from rag.config import Settings
from rag.retrieval.components import build_components
from rag.storage.answers import open_answer_log
from rag.storage.sources import open_source_store

COLLECTION = "doomed1"


@pytest.fixture
def setup(tmp_path: Path, embedder):  # type: ignore[no-untyped-def]
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    pipeline = build_pipeline(build_components(settings))
    pipeline.registry.ensure_collection(COLLECTION)
    queue = JobQueue(pipeline, settings.registry_db, settings.data_dir / "uploads")

    def submit(count: int) -> tuple[str, Path]:
        job_id, directory = queue.new_upload_dir()
        texts = [f"doomed file {i} says q{i}z".encode() for i in range(count)]
        files = [stage(directory, i, f"d{i}.txt", io.BytesIO(text)) for i, text in enumerate(texts)]
        queue.submit(job_id, COLLECTION, files)
        return job_id, directory

    def delete() -> None:
        delete_collection(
            COLLECTION, pipeline, open_source_store(settings), open_answer_log(settings), queue.store
        )  # fmt: skip

    yield pipeline, queue, submit, delete
    queue.stop()


def assert_gone(pipeline) -> None:  # type: ignore[no-untyped-def]
    assert pipeline.registry.collection(COLLECTION) is None
    assert COLLECTION not in [c.name for c in pipeline.registry.collections()]
    assert pipeline.keyword.count(COLLECTION) == 0


def test_a_job_running_when_its_collection_is_deleted_stops_and_writes_nothing(setup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pipeline, queue, submit, delete = setup
    encoding, carry_on = threading.Event(), threading.Event()
    real = pipeline.embedder.embed_documents

    def held_encode(*args, **kwargs):  # type: ignore[no-untyped-def]
        encoding.set()
        assert carry_on.wait(300)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline.embedder, "embed_documents", held_encode)
    job_id, directory = submit(3)
    assert encoding.wait(300), "the job never started encoding"
    delete()  # while the job holds its first batch of vectors, about to write them
    carry_on.set()
    queue.wait_idle()

    job = queue.get(job_id)
    assert job is not None and job.status == "cancelled" and job.error == COLLECTION_DELETED
    assert_gone(pipeline)  # the job's write did not bring it back
    assert not directory.exists()  # its staged files went with it


def test_a_job_queued_when_its_collection_is_deleted_never_runs(setup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pipeline, queue, submit, delete = setup
    monkeypatch.setattr(queue, "_enqueue", lambda job_id: None)  # queued, not yet claimed
    job_id, _ = submit(2)
    delete()
    monkeypatch.undo()
    queue.resume()
    queue.wait_idle()

    job = queue.get(job_id)
    assert job is not None and job.status == "cancelled"
    assert_gone(pipeline)
