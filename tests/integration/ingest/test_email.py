"""An e-mail's attachments as documents of their own, linked to the message: over HTTP, from the command line,
and after a writer dies between storing the attachments and the message."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.pipeline import IngestPipeline, Source
from ingest.service import build_pipeline
from rag.config import Settings
from rag.retrieval.components import Components
from tests.conftest import ROOT, make_pdf
from tests.documents import make_docx, make_eml
from tests.integration.cli.test_cli import rag

ATTACHMENTS = [
    ("route.pdf", make_pdf(["The course rounds the red buoy twice before the finish line."])),
    ("crew.docx", make_docx(["The navigator on race day is Tom Berg."])),
    ("tides.txt", b"High tide at the harbour is at 14:20 on race day."),
    ("broken.pdf", b"%PDF-1.7 not really a PDF"),
]
MESSAGE = make_eml("Regatta entry", "Entries close on 3 May.", ATTACHMENTS)
READ = {"regatta.eml", "regatta.eml/route.pdf", "regatta.eml/crew.docx", "regatta.eml/tides.txt"}


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """The pipeline tests on both registry engines."""
    url = request.getfixturevalue("database_url") if request.param == "postgres" else None
    return Settings(_env_file=None, data_dir=tmp_path / "data", database_url=url)  # type: ignore[call-arg]


def _documents(client: httpx.Client) -> dict[str, dict[str, Any]]:
    response = client.get("/v1/collections/mail/documents", params={"limit": 100})
    assert response.status_code == 200, response.text
    return {d["document_id"]: d for d in response.json()["documents"]}


def _top_hit(client: httpx.Client, query: str) -> dict[str, Any] | None:
    response = client.post("/v1/search", json={"query": query, "collection": "mail", "top_k": 3})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    return results[0] if results else None


def _upload(client: httpx.Client, data: bytes) -> dict[str, Any]:
    response = client.post("/v1/collections/mail/documents", files={"files": ("regatta.eml", data)})
    assert response.status_code == 201, response.text
    [result] = response.json()["results"]
    return result


def test_attachments_uploaded_over_http_are_documents_of_their_own_that_go_with_their_message(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server(), timeout=300) as client:
        assert client.post("/v1/collections", json={"name": "mail"}).status_code == 201
        assert _upload(client, MESSAGE)["status"] == "ingested"
        documents = _documents(client)
        assert set(documents) == READ  # the broken PDF failed alone
        route = documents["regatta.eml/route.pdf"]
        assert route["filename"] == "regatta.eml/route.pdf" and route["pages"] == 1
        assert route["metadata"] == {"attached_to": "regatta.eml", "attachment": "route.pdf"}

        hit = _top_hit(client, "how many times does the course round the red buoy")
        assert hit and "red buoy twice" in hit["text"], hit
        assert (hit["document_id"], hit["filename"], hit["page"]) == (
            "regatta.eml/route.pdf",
            "regatta.eml/route.pdf",
            1,
        )
        hit = _top_hit(client, "who is the navigator on race day")
        assert hit and hit["document_id"] == "regatta.eml/crew.docx" and "Tom Berg" in hit["text"], hit

        chunks = client.get("/v1/collections/mail/documents/regatta.eml/chunks").json()["chunks"]
        message = "\n".join(c["text"] for c in chunks)
        assert "Entries close on 3 May." in message and "red buoy" not in message
        for name in ("route.pdf", "crew.docx", "tides.txt"):
            assert f"Attachment: {name}" in message
        assert "Attachment: broken.pdf (not read: " in message  # the reason, where the message is read

        assert _upload(client, MESSAGE)["status"] == "unchanged"  # the same message again: no duplicates
        assert set(_documents(client)) == READ

        fewer = make_eml("Regatta entry", "Entries close on 4 May.", ATTACHMENTS[:2])  # tides.txt withdrawn
        assert _upload(client, fewer)["status"] == "ingested"
        assert set(_documents(client)) == {"regatta.eml", "regatta.eml/route.pdf", "regatta.eml/crew.docx"}
        hit = _top_hit(client, "high tide at the harbour")
        assert hit is None or hit["document_id"] != "regatta.eml/tides.txt", hit

        assert client.delete("/v1/collections/mail/documents/regatta.eml").status_code == 204
        assert _documents(client) == {}
        assert _top_hit(client, "red buoy course") is None


def test_attachments_ingested_from_the_command_line_are_deleted_with_their_message(tmp_path: Path) -> None:
    docs, data = tmp_path / "docs", tmp_path / "data"
    docs.mkdir()
    (docs / "regatta.eml").write_bytes(MESSAGE)

    def listed() -> set[str]:
        result = rag(["docs", "list", "--collection", "mail", "--json"], data)
        assert result.returncode == 0, result.stderr
        return {d["document_id"] for d in json.loads(result.stdout)}

    for status in ("ingested", "unchanged"):  # the second time: nothing new, nothing twice
        result = rag(["ingest", str(docs), "--collection", "mail", "--json"], data)
        assert result.returncode == 0, result.stderr
        assert [(r["document_id"], r["status"]) for r in json.loads(result.stdout)] == [("regatta.eml", status)]
        assert listed() == READ
    result = rag(["docs", "delete", "regatta.eml", "--collection", "mail"], data)
    assert result.returncode == 0, result.stderr
    assert listed() == set()


def test_attachments_a_dead_writer_stored_before_their_message_are_removed_at_next_start(
    components: Components,
) -> None:
    """A real process dies after the attachments went live, before the message did: no orphans remain."""
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from rag.config import Settings
        from rag.retrieval.components import build_components
        from ingest.service import build_pipeline
        from ingest.pipeline import Source
        data, url = {str(components.settings.data_dir)!r}, {components.settings.database_url!r}
        c = build_components(Settings(_env_file=None, data_dir=data, database_url=url))
        p = build_pipeline(c)
        make_live = c.keyword.replace_document
        def power_cut(collection, document_id, *args):
            if document_id == "regatta.eml":
                os._exit(9)
            return make_live(collection, document_id, *args)
        c.keyword.replace_document = power_cut
        p.ingest([Source.from_bytes("regatta.eml", open(sys.argv[1], "rb").read())], "mail")
        """
    )
    message = components.settings.data_dir.parent / "regatta.eml"
    message.write_bytes(MESSAGE)
    proc = subprocess.run([sys.executable, "-c", script, str(message)], capture_output=True, timeout=600)
    assert proc.returncode == 9, proc.stderr.decode()[-2000:]
    pipeline = build_pipeline(components)  # the next start runs recovery
    assert pipeline.registry.documents("mail", status=None) == []
    assert components.keyword.search("mail", "red buoy navigator tide", 5) == []
    [result] = pipeline.ingest([Source.from_bytes("regatta.eml", MESSAGE)], "mail")  # and then ingests whole
    assert result.status == "ingested"
    assert {d.document_id for d in pipeline.registry.documents("mail")} == READ


def test_a_message_that_fails_to_store_leaves_no_attachments_behind(
    pipeline: IngestPipeline, components: Components, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_live = components.keyword.replace_document

    def disk_full_at_the_message(collection: str, document_id: str, *args: Any) -> None:
        if document_id == "regatta.eml":
            raise OSError("disk full")
        make_live(collection, document_id, *args)

    monkeypatch.setattr(components.keyword, "replace_document", disk_full_at_the_message)
    [result] = pipeline.ingest([Source.from_bytes("regatta.eml", MESSAGE)], "mail")
    assert result.status == "failed" and "disk full" in (result.reason or "")
    assert pipeline.registry.documents("mail", status=None) == []
    assert components.keyword.search("mail", "red buoy navigator tide", 5) == []
