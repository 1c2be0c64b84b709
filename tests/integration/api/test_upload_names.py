"""File names as careless or hostile clients send them, over real HTTP: duplicates, very long names, bidi tricks."""

from __future__ import annotations

import unicodedata

import httpx

from tests.integration.api.test_documents_api import create, upload
from tests.integration.backends.test_api_backends import assert_contract


def chunk_texts(client: httpx.Client, document_id: str) -> str:
    response = client.get(f"/v1/collections/docs1/documents/{document_id}/chunks")
    assert response.status_code == 200, response.text
    return " ".join(c["text"] for c in response.json()["chunks"])


def test_two_files_with_one_name_in_an_upload_keep_the_first_and_reject_the_others(live_server) -> None:  # type: ignore[no-untyped-def]
    files = [
        ("dup.txt", b"First dup: the ferry leaves at nine."),
        ("dup.txt", b"Second dup: the ferry leaves at ten."),
        ("a/same.txt", b"Folder a: lighthouses are painted red."),
        ("b/same.txt", b"Folder b: lighthouses are painted blue."),
        ("other.txt", b"Something else entirely."),
    ]
    with httpx.Client(base_url=live_server()) as client:
        create(client)
        response = upload(client, files)
        assert response.status_code == 201, response.text
        results = response.json()["results"]
        assert [(r["document_id"], r["status"]) for r in results] == [
            ("dup.txt", "ingested"), ("dup.txt", "failed"), ("same.txt", "ingested"), ("same.txt", "failed"),
            ("other.txt", "ingested"),
        ]  # fmt: skip
        for rejected in (results[1], results[3]):
            assert rejected["status_code"] == 409
            assert "duplicate document id" in rejected["reason"] and "not ingested" in rejected["reason"]
            assert "document_id" in rejected["reason"]  # says how to keep both
        assert "nine" in chunk_texts(client, "dup.txt") and "ten" not in chunk_texts(client, "dup.txt")
        assert "red" in chunk_texts(client, "same.txt")
        assert client.get("/v1/collections/docs1").json()["documents"] == 3

        # Distinct document ids keep both.
        both = upload(client, files[2:4], document_id=["a/same.txt", "b/same.txt"])
        assert [r["status"] for r in both.json()["results"]] == ["ingested", "ingested"]
        assert "blue" in chunk_texts(client, "b/same.txt")


def test_a_very_long_name_is_shortened_but_keeps_its_extension(live_server) -> None:  # type: ignore[no-untyped-def]
    long_name = "quarterly-report-" + "x" * 290 + ".txt"
    with httpx.Client(base_url=live_server()) as client:
        create(client)
        response = upload(client, [(long_name, b"The long-named report is about harbour cranes.")])
        assert response.status_code == 201, response.text
        [result] = response.json()["results"]
        assert result["status"] == "ingested"
        assert result["document_id"] == result["filename"]
        assert len(result["filename"]) == 255 and result["filename"].startswith("quarterly-report-xxx")
        assert result["filename"].endswith("x.txt")
        assert client.get(f"/v1/collections/docs1/documents/{result['document_id']}").status_code == 200
        # Through the JSON route too, with an explicit id that is too long.
        body = {"text": "Another long one.", "filename": "notes.md", "document_id": "y" * 300 + ".md"}
        [by_json] = client.post("/v1/collections/docs1/documents", json=body).json()["results"]
        assert by_json["document_id"] == "y" * 252 + ".md"


def test_bidi_and_invisible_characters_never_reach_ids_and_normal_names_stay_as_they_are(live_server) -> None:  # type: ignore[no-untyped-def]
    hostile = {
        "invoice\u202efdp.txt": "invoicefdp.txt",  # RTL override: shows as "invoicetxt.pdf"
        "\u2066memo\u2069.md": "memo.md",  # isolates
        "pay\u200broll\u200d.txt": "payroll.txt",  # zero-width space and joiner
        "\ufeffbom.txt": "bom.txt",
    }
    normal = ["Résumé 2024 (final).txt", "日本語の資料.md", "notes_v2-draft.txt", "ﬁnance & ops.md"]
    files = [(name, f"Document number {i} about sailing.".encode()) for i, name in enumerate([*hostile, *normal])]
    with httpx.Client(base_url=live_server(sync_upload_files=50)) as client:
        create(client)
        response = upload(client, files)
        assert response.status_code == 201, response.text
        results = response.json()["results"]
        assert [r["status"] for r in results] == ["ingested"] * len(files)
        assert [r["document_id"] for r in results] == [*hostile.values(), *normal]
        assert [r["filename"] for r in results] == [*hostile.values(), *normal]
        listed = {d["document_id"] for d in client.get("/v1/collections/docs1/documents").json()["documents"]}
        assert listed == {*hostile.values(), *normal}
        assert not any(unicodedata.category(ch) in ("Cf", "Cc") for name in listed for ch in name)

        # An explicit document_id is cleaned the same way; one with nothing left is refused.
        explicit = upload(client, [("x.txt", b"Explicit id.")], document_id="fin/\u202ereport")
        assert explicit.json()["results"][0]["document_id"] == "fin/report"
        assert_contract(upload(client, [("y.txt", b"Nothing left.")], document_id="\u202e\u200b"), 422)
