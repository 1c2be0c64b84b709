"""The `s3` connector against a real S3-protocol server process (moto in server mode on a free port), into the
real pipeline: a bucket's prefix synced over paginated listings, changes found by ETag, deletions removed, a
resync with no change reading no object, a bucket that is gone failing the sync and removing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from ingest.connectors import SourceUnavailable
from ingest.jobs.sync_jobs import run_sync
from ingest.pipeline import IngestPipeline
from ingest.syncing import SyncReport
from rag.storage.sources import SourceRecord, SourceStore, open_source_store
from tests.conftest import BIN, free_port, server_process

POLICY = "Employees file {name} requests in PeopleHub at least two weeks before the planned date."
UNSUPPORTED = 1000  # one more listing page than a default page of 1,000 keys holds


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with server_process([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], "/", port, log) as url:
        yield url


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """A client of the server, and the credentials the connector finds where boto3 looks (the environment)."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none"),
                        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    return boto3.client("s3", endpoint_url=s3_endpoint)


def _add(store: SourceStore, location: str, endpoint: str) -> SourceRecord:
    record = SourceRecord("src-s3", "kb", "s3", location, {"endpoint_url": endpoint}, created_at="2026-01-01")
    return store.add(record)


def _sync(pipeline: IngestPipeline, store: SourceStore) -> SyncReport:
    record = store.get("src-s3")
    assert record is not None
    return run_sync(record, pipeline, store)


def _origins(pipeline: IngestPipeline) -> dict[str, str]:
    return {d.document_id: d.metadata["origin"] for d in pipeline.registry.documents("kb")}


def test_a_bucket_prefix_syncs_changes_by_etag_and_converges(
    s3: Any, s3_endpoint: str, pipeline: IngestPipeline
) -> None:
    s3.create_bucket(Bucket="handbooks")
    for index in range(UNSUPPORTED):  # listed over two pages; no loader reads them, so none is read
        s3.put_object(Bucket="handbooks", Key=f"hr/assets/{index:04}.bin", Body=b"\0")
    objects = {"hr/leave.md": POLICY.format(name="leave"), "hr/travel.txt": POLICY.format(name="travel"),
               "hr/zz/training.md": POLICY.format(name="training"), "hr/folder/": "",
               "finance/budget.md": POLICY.format(name="budget")}  # fmt: skip
    for key, text in objects.items():
        s3.put_object(Bucket="handbooks", Key=key, Body=text.encode())
    store = open_source_store(pipeline.settings)
    _add(store, "s3://handbooks/hr", s3_endpoint)

    first = _sync(pipeline, store)
    assert first.counts == {"added": 3, "changed": 0, "removed": 0, "unchanged": 0, "failed": 0}
    assert _origins(pipeline) == {"src-s3/leave.md": "s3://handbooks/hr/leave.md",
                                  "src-s3/travel.txt": "s3://handbooks/hr/travel.txt",
                                  "src-s3/zz/training.md": "s3://handbooks/hr/zz/training.md"}  # fmt: skip

    again = _sync(pipeline, store)
    assert again.counts["unchanged"] == 3 and again.results == []  # same ETags: no object read

    s3.put_object(Bucket="handbooks", Key="hr/leave.md", Body=POLICY.format(name="sabbatical leave").encode())
    s3.delete_object(Bucket="handbooks", Key="hr/travel.txt")
    s3.put_object(Bucket="handbooks", Key="hr/vpn.md", Body=POLICY.format(name="vpn access").encode())
    third = _sync(pipeline, store)
    assert third.counts == {"added": 1, "changed": 1, "removed": 1, "unchanged": 1, "failed": 0}
    assert set(_origins(pipeline)) == {"src-s3/leave.md", "src-s3/vpn.md", "src-s3/zz/training.md"}
    leave = " ".join(c.text for c in pipeline.keyword.document_chunks("kb", "src-s3/leave.md"))
    assert "sabbatical leave" in leave
    assert _sync(pipeline, store).counts == {"added": 0, "changed": 0, "removed": 0, "unchanged": 3, "failed": 0}


def test_a_bucket_that_is_gone_fails_the_sync_and_removes_nothing(
    s3: Any, s3_endpoint: str, pipeline: IngestPipeline
) -> None:
    s3.create_bucket(Bucket="short-lived")
    s3.put_object(Bucket="short-lived", Key="a.md", Body=POLICY.format(name="a").encode())
    store = open_source_store(pipeline.settings)
    _add(store, "s3://short-lived", s3_endpoint)
    assert _sync(pipeline, store).counts["added"] == 1
    s3.delete_object(Bucket="short-lived", Key="a.md")
    s3.delete_bucket(Bucket="short-lived")
    with pytest.raises(SourceUnavailable):
        _sync(pipeline, store)
    assert set(_origins(pipeline)) == {"src-s3/a.md"}
    record = store.get("src-s3")
    assert record is not None and record.last_status == "failed" and "NoSuchBucket" in (record.last_error or "")
