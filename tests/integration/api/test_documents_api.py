"""Collections and documents over real HTTP: multipart uploads, jobs, inspection, limits, concurrency."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_pdf
from tests.integration.backends.test_api_backends import assert_contract


def create(client: httpx.Client, name: str = "docs1") -> None:
    assert client.post("/v1/collections", json={"name": name, "description": "test"}).status_code == 201


def upload(client: httpx.Client, files: list[tuple[str, bytes]], collection: str = "docs1", **data: object):  # type: ignore[no-untyped-def]
    parts = [("files", (name, content)) for name, content in files]
    return client.post(f"/v1/collections/{collection}/documents", files=parts, data=data, timeout=300)


def wait_for_job(client: httpx.Client, job_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.3)
    raise TimeoutError(job)


def test_collections_lifecycle(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server()) as client:
        created = client.post("/v1/collections", json={"name": "hr-docs", "description": "HR"})
        assert created.status_code == 201 and created.json()["documents"] == 0
        assert_contract(client.post("/v1/collections", json={"name": "hr-docs"}), 409)
        assert_contract(client.post("/v1/collections", json={"name": "bad/name"}), 422)
        upload(client, [("a.txt", b"Holiday rules.")], "hr-docs")
        listed = client.get("/v1/collections").json()["collections"]
        assert [(c["name"], c["documents"], c["chunks"] > 0) for c in listed] == [("hr-docs", 1, True)]
        assert client.get("/v1/collections/hr-docs").json()["description"] == "HR"
        assert client.delete("/v1/collections/hr-docs").status_code == 204
        assert_contract(client.get("/v1/collections/hr-docs"), 404)
        assert_contract(client.delete("/v1/collections/hr-docs"), 404)
        assert_contract(client.post("/v1/search", json={"query": "holiday", "collection": "hr-docs"}), 404)


def test_twenty_file_upload_with_a_corrupt_and_an_unsupported_file(live_server) -> None:  # type: ignore[no-untyped-def]
    files = [(f"note{i:02d}.txt", f"Note {i}: the code word is w{i}x.".encode()) for i in range(17)]
    files += [("manual.pdf", make_pdf(["Page one.", "Page two about pumps."])), ("broken.pdf", b"%PDF-1.4 junk"),
              ("song.mp3", b"ID3\x03")]  # fmt: skip
    with httpx.Client(base_url=live_server(sync_upload_files=50)) as client:
        create(client)
        response = upload(client, files)
        assert response.status_code == 201, response.text
        results = {r["filename"]: r for r in response.json()["results"]}
        assert len(results) == 20
        assert results["manual.pdf"]["status"] == "ingested" and results["manual.pdf"]["pages"] == 2
        assert results["broken.pdf"]["status"] == "failed" and "PDF" in results["broken.pdf"]["reason"]
        assert results["song.mp3"]["status_code"] == 415
        assert sum(r["status"] == "ingested" for r in results.values()) == 18
        page = client.get("/v1/collections/docs1/documents", params={"limit": 5, "offset": 5, "order": "asc"}).json()
        assert page["total"] == 18 and len(page["documents"]) == 5 and page["offset"] == 5
        hits = client.post("/v1/search", json={"query": "code word w7x", "collection": "docs1", "top_k": 1}).json()
        assert hits["results"][0]["filename"] == "note07.txt"


def test_a_lone_unsupported_file_answers_415(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server()) as client:
        create(client)
        assert_contract(upload(client, [("movie.mp4", b"\x00\x00\x00 ftyp")]), 415)
        assert_contract(upload(client, [("empty.txt", b"")]), 400)
        response = client.post("/v1/collections/docs1/documents", content=b"x", headers={"content-type": "text/plain"})
        assert_contract(response, 415)


def test_a_big_upload_becomes_a_job_followed_to_completion(live_server) -> None:  # type: ignore[no-untyped-def]
    files = [(f"part{i}.md", f"# Part {i}\nChapter {i} explains topic t{i}q.".encode()) for i in range(6)]
    files.append(("bad.txt", bytes(range(256)) * 4))  # no encoding reads these bytes as text
    with httpx.Client(base_url=live_server(sync_upload_files=2)) as client:
        create(client)
        response = upload(client, files)
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert response.headers["location"] == f"/v1/jobs/{accepted['job_id']}" and accepted["files_total"] == 7
        job = wait_for_job(client, accepted["job_id"])
        assert job["status"] == "done" and job["files_done"] == 7 and job["chunks_done"] >= 6
        assert [f["filename"] for f in job["failures"]] == ["bad.txt"] and "UTF-8" in job["failures"][0]["reason"]
        assert client.get("/v1/collections/docs1").json()["documents"] == 6
        assert_contract(client.get("/v1/jobs/job-nope"), 404)


def test_a_long_text_becomes_a_job_though_its_bytes_are_few(live_server) -> None:  # type: ignore[no-untyped-def]
    """Plain text is all text to embed: a few MB of Markdown is minutes of encoding, too long for a response."""
    long_text = "\n\n".join(f"Paragraph {i} tells of topic w{i}k at length." for i in range(120))  # ~5 KB
    assert len(long_text) > 4000
    with httpx.Client(base_url=live_server(sync_upload_text_bytes=4000)) as client:
        create(client)
        as_file = upload(client, [("long.md", long_text.encode())])
        assert as_file.status_code == 202, as_file.text
        as_json = client.post("/v1/collections/docs1/documents", json={"text": long_text, "filename": "long2.md"})
        assert as_json.status_code == 202, as_json.text
        for accepted in (as_file.json(), as_json.json()):
            assert wait_for_job(client, accepted["job_id"])["status"] == "done"
        short = upload(client, [("short.md", b"# Short\nA few words on topic s1q.")])
        assert short.status_code == 201 and short.json()["results"][0]["status"] == "ingested", short.text
        assert client.get("/v1/collections/docs1").json()["documents"] == 3


def test_json_text_with_metadata_then_inspect_chunks_and_delete(live_server) -> None:  # type: ignore[no-untyped-def]
    text = " ".join(f"Sentence {i} describes the quarterly budget review." for i in range(150))
    with httpx.Client(base_url=live_server()) as client:
        create(client)
        body = {"text": text, "filename": "budget", "document_id": "fin/budget-2024", "metadata": {"team": "finance"}}
        response = client.post("/v1/collections/docs1/documents", json=body)
        assert response.status_code == 201 and response.json()["results"][0]["chunks"] > 2
        upload(client, [("other.txt", b"The quarterly budget of the hr team.")], metadata=json.dumps({"team": "hr"}))
        doc = client.get("/v1/collections/docs1/documents/fin/budget-2024").json()
        assert doc["metadata"] == {"team": "finance"} and doc["size"] == len(text) and len(doc["sha256"]) == 64
        chunks = client.get("/v1/collections/docs1/documents/fin/budget-2024/chunks", params={"limit": 2}).json()
        assert chunks["total"] == doc["chunk_count"] and len(chunks["chunks"]) == 2
        first = chunks["chunks"][0]
        assert text[first["start_char"] : first["end_char"]] == first["text"]
        search = {"query": "quarterly budget", "collection": "docs1", "filters": {"team": "hr"}}
        assert {r["filename"] for r in client.post("/v1/search", json=search).json()["results"]} == {"other.txt"}
        assert client.delete("/v1/collections/docs1/documents/fin/budget-2024").status_code == 204
        assert_contract(client.get("/v1/collections/docs1/documents/fin/budget-2024"), 404)
        assert_contract(client.get("/v1/collections/docs1/documents/fin/budget-2024/chunks"), 404)
        assert_contract(client.post("/v1/collections/docs1/documents", json={"text": ""}), 422)
        bad_meta = upload(client, [("x.txt", b"x")], metadata='{"nested": {"a": 1}}')
        assert_contract(bad_meta, 422)


def test_limits_and_hostile_filenames(live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server(max_upload_bytes=2000)) as client:
        create(client)
        assert_contract(upload(client, [("big.txt", b"x" * 5000)]), 413)
        response = upload(client, [("../../../../tmp/evil.txt", b"not a path"), ("..\\..\\win.txt", b"win")])
        names = sorted(r["filename"] for r in response.json()["results"])
        assert names == ["evil.txt", "win.txt"]
    assert not Path("/tmp/evil.txt").exists()
    assert list((tmp_path / "data" / "uploads").glob("*/*")) == []  # staged copies are cleaned up


def test_parallel_uploads_and_searches_are_safe_and_deduplicated(live_server) -> None:  # type: ignore[no-untyped-def]
    pdf = make_pdf([f"Chapter {i}. The lighthouse on island {i} uses lamp model L{i}." for i in range(4)])
    with httpx.Client(base_url=live_server(), timeout=300) as client:
        create(client)

        def same_file(_: int) -> int:
            return upload(client, [("lighthouse.pdf", pdf)]).status_code

        def other_file(i: int) -> int:
            return upload(client, [(f"f{i}.txt", f"File {i} about ferries.".encode())]).status_code

        def search(_: int) -> list[str]:
            body = {"query": "lighthouse lamp", "collection": "docs1", "top_k": 50}
            response = client.post("/v1/search", json=body)
            assert response.status_code == 200
            return [r["chunk_id"] for r in response.json()["results"] if r["filename"] == "lighthouse.pdf"]

        with ThreadPoolExecutor(8) as pool:
            uploads = [pool.submit(same_file, i) for i in range(4)] + [pool.submit(other_file, i) for i in range(4)]
            searches = [pool.submit(search, i) for i in range(8)]
            assert all(f.result() == 201 for f in uploads)
            seen = [f.result() for f in searches]
        docs = client.get("/v1/collections/docs1/documents").json()
        assert docs["total"] == 5
        final = search(0)
        chunk_count = next(d["chunk_count"] for d in docs["documents"] if d["document_id"] == "lighthouse.pdf")
        assert len(final) == chunk_count  # one version, no duplicates
        for ids in seen:  # a search saw the document whole or not at all
            assert len(ids) in (0, chunk_count)


def test_an_interrupted_job_resumes_after_a_restart(tmp_path: Path, embedder, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from ingest.jobs.runners import JobQueue, stage
    from ingest.service import build_pipeline
    from rag.config import Settings
    from rag.retrieval.components import build_components

    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    pipeline = build_pipeline(build_components(settings))
    pipeline.registry.ensure_collection("jobs1")
    uploads = settings.data_dir / "uploads"
    before = JobQueue(pipeline, settings.registry_db, uploads)
    monkeypatch.setattr(before, "_enqueue", lambda job_id: None)  # the process dies before the job runs
    job_id, directory = before.new_upload_dir()
    import io

    files = [stage(directory, i, f"r{i}.txt", io.BytesIO(f"resumed file {i}".encode())) for i in range(3)]
    before.submit(job_id, "jobs1", files)
    assert before.get(job_id).status == "queued"  # type: ignore[union-attr]

    after = JobQueue(pipeline, settings.registry_db, uploads)  # the next start
    assert after.resume() == 1
    after.wait_idle()
    job = after.get(job_id)
    assert job is not None and job.status == "done" and job.files_done == 3
    assert len(pipeline.registry.documents("jobs1")) == 3 and not directory.exists()


@pytest.mark.parametrize("path", ["/v1/collections/nope1/documents", "/v1/collections/nope1/documents/x.txt"])
def test_unknown_collection_is_404(live_server, path: str) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server()) as client:
        assert_contract(client.get(path), 404)
