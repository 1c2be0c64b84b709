"""Every supported format through the real HTTP upload and the real CLI: one file of each, made here, found by a
search for what only it says; locked files fail alone with their name and reason while the rest goes in."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import httpx

from tests.conftest import make_encrypted_pdf, make_pdf
from tests.documents import (
    encrypt_office,
    make_docx,
    make_eml,
    make_epub,
    make_pptx,
    make_table_pdf,
    make_xlsx,
)
from tests.integration.backends.test_api_backends import assert_contract
from tests.integration.cli.test_cli import rag

# file name -> (its bytes, a question only it answers, what the hit must hold)
FORMATS: dict[str, tuple[bytes, str, str]] = {
    "manual.pdf": (make_pdf(["The kayak rudder is adjusted with the blue knob."]), "kayak rudder knob", "blue knob"),
    "fees.pdf": (
        make_table_pdf("Harbour fees", [("Boat", "Fee per night"), ("Dinghy", "6 EUR"), ("Yacht", "31 EUR")]),
        "yacht harbour fee per night",
        "| Boat | Fee per night |\n| --- | --- |\n| Dinghy | 6 EUR |\n| Yacht | 31 EUR |",
    ),
    "notes.txt": ("Der Schlüssel für die Bootshalle hängt im Büro.".encode("cp1252"), "Schlüssel Bootshalle", "Büro"),
    "unicode.md": (
        "\ufeff# Paddles\nCarbon paddles weigh 700 grams.".encode("utf-16-le"),
        "carbon paddle weight",
        "700",
    ),
    "hours.html": (
        b"<h1>Boathouse</h1><table><tr><th>Day</th><th>Open</th></tr><tr><td>Sunday</td><td>8-12</td></tr></table>",
        "boathouse sunday opening",
        "| Day | Open |\n| --- | --- |\n| Sunday | 8-12 |",
    ),
    "crew.docx": (
        make_docx(["Crew roles"], [("Role", "Name"), ("Skipper", "Ines Okafor"), ("Navigator", "Tom Berg")]),
        "who is the navigator",
        "| Role | Name |\n| --- | --- |\n| Skipper | Ines Okafor |\n| Navigator | Tom Berg |",
    ),
    "rentals.csv": (
        codecs.BOM_UTF8 + "Boat;Hourly rate\nCanoe;11 €\nSUP board;9 €\n".encode(),
        "canoe hourly rate",
        "| Boat | Hourly rate |\n| --- | --- |\n| Canoe | 11 € |",
    ),
    "stock.xlsx": (
        make_xlsx({"Life jackets": [("Size", "In stock"), ("Child", "14"), ("Adult", "31")]}),
        "life jackets in stock adult",
        "Life jackets\n| Size | In stock |\n| --- | --- |\n| Child | 14 |\n| Adult | 31 |",
    ),
    "briefing.pptx": (
        make_pptx([("Safety briefing", "Wear a life jacket.", "Mention the whistle on every jacket.")]),
        "whistle on the jacket",
        "Speaker notes: Mention the whistle on every jacket.",
    ),
    "regatta.eml": (
        make_eml("Regatta entry", "Entries close on 3 May.", [("route.txt", b"The course rounds the red buoy twice.")]),
        "regatta entries close",
        "Entries close on 3 May.\n\nAttachment: route.txt",  # its text is a document of its own: test_email.py
    ),
    "knots.epub": (
        make_epub("Knots", [("Bowline", "The bowline makes a fixed loop."), ("Cleat hitch", "It holds a line.")]),
        "fixed loop knot",
        "The bowline makes a fixed loop.",
    ),
}
LOCKED: dict[str, tuple[bytes, str]] = {
    "locked.pdf": (make_encrypted_pdf(), "encrypted PDF"),
    "locked.docx": (encrypt_office(make_docx(["Secret crew list"])), "password-protected .docx"),
    "locked.xlsx": (encrypt_office(make_xlsx({"A": [("a", "b"), ("c", "d")]})), "password-protected .xlsx"),
    "locked.pptx": (encrypt_office(make_pptx([("Secret", "plan", "")])), "password-protected .pptx"),
    "old.docx": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "an old .doc file"),
}


def _search(client: httpx.Client, query: str, filename: str) -> list[str]:
    body = {"query": query, "collection": "boats", "top_k": 5, "filters": {"filename": filename}}
    response = client.post("/v1/search", json=body)
    assert response.status_code == 200, response.text
    return [hit["text"] for hit in response.json()["results"]]


def test_every_format_uploads_over_http_and_locked_files_fail_alone_naming_file_and_reason(live_server) -> None:  # type: ignore[no-untyped-def]
    # every file in one upload answered at once (more than the default 10 files would become a job)
    with httpx.Client(base_url=live_server(sync_upload_files=len(FORMATS) + len(LOCKED)), timeout=300) as client:
        assert client.post("/v1/collections", json={"name": "boats"}).status_code == 201
        parts = [("files", (name, data)) for name, (data, _, _) in FORMATS.items()]
        parts += [("files", (name, data)) for name, (data, _) in LOCKED.items()]
        response = client.post("/v1/collections/boats/documents", files=parts)
        assert response.status_code == 201, response.text
        results = {r["filename"]: r for r in response.json()["results"]}
        for name in FORMATS:
            assert results[name]["status"] == "ingested", results[name]
        for name, (_, reason) in LOCKED.items():
            assert (results[name]["status"], results[name]["status_code"]) == ("failed", 400), results[name]
            assert reason in results[name]["reason"], results[name]
        assert results["stock.xlsx"]["pages"] == 1 and results["briefing.pptx"]["pages"] == 1
        for name, (_, query, expected) in FORMATS.items():
            assert any(expected in text for text in _search(client, query, name)), name
        for name, (data, reason) in LOCKED.items():  # alone: the upload's answer is the file's own 4xx
            error = assert_contract(client.post("/v1/collections/boats/documents", files={"files": (name, data)}), 400)
            assert error["message"].startswith(f"{name}: ") and reason in error["message"]


def test_every_format_ingests_from_the_command_line(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, (data, _, _) in FORMATS.items():
        (docs / name).write_bytes(data)
    (docs / "locked.docx").write_bytes(LOCKED["locked.docx"][0])
    result = rag(["ingest", str(docs), "--collection", "boats", "--json"], tmp_path / "data")
    assert result.returncode == 1, result.stderr  # the locked file failed, the rest went in
    rows = {r["document_id"]: r for r in json.loads(result.stdout)}
    assert {name for name, r in rows.items() if r["status"] == "ingested"} == set(FORMATS)
    assert rows["locked.docx"]["status"] == "failed" and "password-protected .docx" in rows["locked.docx"]["reason"]
