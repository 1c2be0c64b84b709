"""Synced sources over real HTTP (uvicorn): add a real folder, its first sync runs as a job, a change in the folder
reaches the collection at the next sync, status and errors follow the contract, removal takes the documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.integration.backends.test_api_backends import assert_contract
from tests.integration.sync.website import website
from tests.waiting import wait_until

TEXT = "The {name} policy: employees file {name} requests in PeopleHub at least two weeks ahead."


def _job_done(client: httpx.Client, job_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        job = client.get(f"/v1/jobs/{job_id}").json()
        return job if job["status"] in ("done", "failed") else None

    return wait_until(finished, f"sync job {job_id} ended")


def test_a_folder_source_stays_in_sync_over_http(live_server: Any, tmp_path: Path) -> None:
    folder = tmp_path / "share"
    folder.mkdir()
    (folder / "leave.md").write_text(TEXT.format(name="leave"))
    (folder / "notes.txt").write_text(TEXT.format(name="travel"))
    url = live_server(source_roots=str(tmp_path), source_watch=False)  # syncs only when asked, here
    with httpx.Client(base_url=url, timeout=300) as client:
        assert client.post("/v1/collections", json={"name": "kb"}).status_code == 201
        added = client.post("/v1/collections/kb/sources", json={
            "kind": "folder", "location": str(folder), "options": {"include": ["*.md"]}, "every_s": 3600,
        })  # fmt: skip
        assert added.status_code == 201, added.text
        source = added.json()
        assert source["kind"] == "folder" and source["options"] == {"include": ["*.md"]} and source["job_id"]
        _job_done(client, source["job_id"])
        shown = client.get(f"/v1/collections/kb/sources/{source['id']}").json()
        assert shown["last_status"] == "done" and shown["counts"]["added"] == 1 and shown["next_run_at"]
        documents = client.get("/v1/collections/kb/documents").json()["documents"]
        assert [d["metadata"]["origin"] for d in documents] == [str((folder / "leave.md").resolve())]

        (folder / "leave.md").write_text(TEXT.format(name="parental leave"))
        (folder / "wifi.md").write_text(TEXT.format(name="wifi"))
        started = client.post(f"/v1/collections/kb/sources/{source['id']}/sync")
        assert started.status_code == 202 and started.headers["location"] == f"/v1/jobs/{started.json()['job_id']}"
        job = _job_done(client, started.json()["job_id"])
        assert job["status"] == "done" and {r["status"] for r in job["results"]} == {"added", "changed"}
        listed = client.get("/v1/collections/kb/sources").json()["sources"]
        assert [s["counts"] for s in listed] == [{"added": 1, "changed": 1, "removed": 0, "unchanged": 0, "failed": 0}]
        hits = client.post("/v1/search", json={"query": "parental leave requests", "collection": "kb"}).json()
        assert hits["results"] and hits["results"][0]["document_id"].endswith("/leave.md")
        assert hits["results"][0]["origin"] == str((folder / "leave.md").resolve())  # a citation can open it

        assert client.delete(f"/v1/collections/kb/sources/{source['id']}").status_code == 204
        assert client.get("/v1/collections/kb/documents").json()["documents"] == []
        assert_contract(client.get(f"/v1/collections/kb/sources/{source['id']}"), 404)


def test_bad_sources_are_refused_with_the_error_contract(live_server: Any, tmp_path: Path) -> None:
    url = live_server(source_roots=str(tmp_path / "allowed"))
    with httpx.Client(base_url=url, timeout=300) as client:
        client.post("/v1/collections", json={"name": "kb"})
        outside = client.post("/v1/collections/kb/sources", json={"kind": "folder", "location": "/etc"})
        assert "RAG_SOURCE_ROOTS" in assert_contract(outside, 403)["message"]
        local_git = client.post("/v1/collections/kb/sources", json={"kind": "git", "location": "file:///etc"})
        assert_contract(local_git, 403)
        unknown = client.post("/v1/collections/kb/sources", json={"kind": "ftp", "location": "ftp://x"})
        assert "unknown source kind 'ftp'" in assert_contract(unknown, 400)["message"]
        bad_option = {"kind": "git", "location": "https://example.invalid/r.git", "options": {"colour": "red"}}
        assert_contract(client.post("/v1/collections/kb/sources", json=bad_option), 422)
        web = client.post("/v1/collections/kb/sources", json={"kind": "web", "location": "http://127.0.0.1:9/"})
        assert "RAG_SOURCE_HOSTS" in assert_contract(web, 403)["message"]  # the server's network is not a key's
        for remote in ("https://intranet.example/r.git", "git@intranet.example:team/r.git"):
            git = client.post("/v1/collections/kb/sources", json={"kind": "git", "location": remote})
            assert "RAG_SOURCE_HOSTS" in assert_contract(git, 403)["message"]
        s3 = {"kind": "s3", "location": "s3://b", "options": {"endpoint_url": "http://169.254.169.254"}}
        assert_contract(client.post("/v1/collections/kb/sources", json=s3), 403)
        missing = client.post("/v1/collections/nope/sources", json={"kind": "git", "location": "https://x/r.git"})
        assert_contract(missing, 404)
        assert_contract(client.post("/v1/collections/kb/sources/src-nope/sync"), 404)
        assert client.get("/v1/collections/kb/sources").json() == {"sources": []}


def test_a_web_source_over_http_cites_the_pages_it_read(live_server: Any) -> None:
    with website() as site:
        paragraph = f"<p>{TEXT.format(name='remote work')}</p>"
        site.set("/help/", f"<html><head><title>Help</title></head><body><h1>Help</h1>{paragraph * 2}</body></html>")
        url = live_server(source_hosts="127.0.0.1", source_watch=False)
        with httpx.Client(base_url=url, timeout=300) as client:
            client.post("/v1/collections", json={"name": "kb"})
            body = {"kind": "web", "location": f"{site.url}/help/", "options": {"max_items": 50}}
            added = client.post("/v1/collections/kb/sources", json=body)
            assert added.status_code == 201, added.text
            assert _job_done(client, added.json()["job_id"])["status"] == "done"
            hits = client.post("/v1/search", json={"query": "remote work requests", "collection": "kb"}).json()
            assert hits["results"][0]["origin"] == f"{site.url}/help/"  # a citation opens the page
            not_s3 = {"kind": "s3", "location": "bucket", "options": {"endpoint_url": site.url}}
            refused = client.post("/v1/collections/kb/sources", json=not_s3)
            assert "s3://bucket" in assert_contract(refused, 400)["message"]


def test_a_watched_folder_change_becomes_searchable_without_asking(live_server: Any, tmp_path: Path) -> None:
    folder = tmp_path / "share"
    folder.mkdir()
    (folder / "parking.md").write_text("Parking: the garage opens at seven.")
    url = live_server(source_roots=str(tmp_path), source_schedule_poll_s=0.2)
    with httpx.Client(base_url=url, timeout=300) as client:
        client.post("/v1/collections", json={"name": "kb"})
        source = client.post("/v1/collections/kb/sources", json={"kind": "folder", "location": str(folder)}).json()
        _job_done(client, source["job_id"])

        def found(words: str) -> bool:
            hits = client.post("/v1/search", json={"query": words, "collection": "kb", "top_k": 3}).json()["results"]
            return any(words in hit["text"] for hit in hits)

        (folder / "canteen.md").write_text("Canteen: lunch is served from noon to two.")  # a file-system event
        wait_until(lambda: found("lunch is served from noon"), "the new file was synced through its event")
        (folder / "parking.md").unlink()
        wait_until(
            lambda: (
                [d["document_id"] for d in client.get("/v1/collections/kb/documents").json()["documents"]]
                == [f"{source['id']}/canteen.md"]
            ),
            "the deleted file's document was removed",
        )
