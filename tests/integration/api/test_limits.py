"""Limits hold for every way of sending bytes, over real HTTP: chunked bodies without a Content-Length,
lengths that promise more than is sent, oversized fields, decompression bombs and unsplittable text."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.hostile import CountingBody, multipart, paragraph_bomb, promise_length, size_bomb
from tests.integration.api.test_documents_api import create, upload
from tests.integration.backends.test_api_backends import assert_contract

MB = 1024 * 1024


def contract_of(raw: bytes, status: int) -> dict:
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status}".encode()), raw[:300]
    error = json.loads(body)["error"]
    assert error["code"] == status and error["message"] and error["traceId"]
    return error


def test_a_chunked_upload_over_the_limit_is_refused_not_accepted_as_a_job(live_server) -> None:  # type: ignore[no-untyped-def]
    """12 files of 95 KB under a 1 MB limit, sent chunked: no Content-Length to check up front."""
    with httpx.Client(base_url=live_server(max_upload_bytes=MB, sync_upload_bytes=1000), timeout=120) as client:
        create(client)
        content_type, pieces = multipart([(f"part{i:02d}.txt", 95 * 1024) for i in range(12)])
        response = client.post(
            "/v1/collections/docs1/documents", content=pieces, headers={"content-type": content_type}
        )
        error = assert_contract(response, 413)
        assert "RAG_MAX_UPLOAD_BYTES" in error["message"]
        assert client.get("/v1/collections/docs1/documents").json()["total"] == 0


def test_a_chunked_body_stops_being_read_at_the_limit(live_server) -> None:  # type: ignore[no-untyped-def]
    """A 60 MB chunked upload under a 1 MB limit: the server stops reading near 1 MB, it does not read 60."""
    with httpx.Client(base_url=live_server(max_upload_bytes=MB), timeout=120) as client:
        create(client)
        content_type, pieces = multipart([("huge.txt", 60 * MB)])
        body = CountingBody(pieces)
        started = time.monotonic()
        response = client.post("/v1/collections/docs1/documents", content=body, headers={"content-type": content_type})
        assert_contract(response, 413)
        # What the client got to send: the limit plus what socket buffers hold, far from the 60 MB.
        assert body.sent < 16 * MB, f"{body.sent:,} bytes sent in {time.monotonic() - started:.1f}s"


@pytest.mark.parametrize(
    ("path", "content_type", "declared"),
    [
        ("/v1/collections/docs1/documents", "application/json", 200 * MB),  # a JSON text: the file limit applies
        ("/v1/collections/docs1/documents", "multipart/form-data; boundary=x", 600 * MB),
        ("/v1/query", "application/json", 50 * MB),
    ],
)
def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
    live_server, path: str, content_type: str, declared: int
) -> None:  # type: ignore[no-untyped-def]
    """The client promises a huge body and sends 1 KB of it: the 413 comes at once, not after the body."""
    url = live_server()
    with httpx.Client(base_url=url) as client:
        create(client)
    raw = promise_length(url, path, content_type, declared, b"{" + b" " * 1023, timeout=60)
    error = contract_of(raw, 413)
    assert f"{declared:,}" in error["message"]


def test_json_bodies_are_capped_also_when_chunked(live_server) -> None:  # type: ignore[no-untyped-def]
    """A 3 MB `stop` string sent chunked to /v1/query: 413 at RAG_MAX_REQUEST_BYTES (1 MiB by default)."""
    with httpx.Client(base_url=live_server(), timeout=120) as client:
        create(client)
        payload = json.dumps({"question": "q", "collection": "docs1", "stop": "x" * (3 * MB)}).encode()
        body = CountingBody(iter([payload[i : i + 65536] for i in range(0, len(payload), 65536)]))
        response = client.post("/v1/query", content=body, headers={"content-type": "application/json"})
        error = assert_contract(response, 413)
        assert "RAG_MAX_REQUEST_BYTES" in error["message"]


def test_oversized_fields_get_a_clear_4xx(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server(), timeout=120) as client:
        create(client)
        long_stop = client.post("/v1/query", json={"question": "q", "collection": "docs1", "stop": ["x" * 300]})
        assert "stop" in assert_contract(long_stop, 422)["message"]
        long_question = client.post("/v1/query", json={"question": "why " * 2500, "collection": "docs1"})
        assert "question" in assert_contract(long_question, 422)["message"]
        messages = [{"role": "user", "content": "hi"}] * 300
        chat = client.post("/v1/chat/completions", json={"messages": messages, "use_context": False})
        assert "messages" in assert_contract(chat, 400)["message"]


def test_a_file_over_the_per_file_limit_is_refused_with_the_upload_not_in_a_job(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server(max_file_bytes=100_000, sync_upload_bytes=1000), timeout=120) as client:
        create(client)
        response = upload(client, [("small.txt", b"Fine and small."), ("big.txt", b"word " * 30_000)])
        error = assert_contract(response, 413)
        assert "'big.txt' (150,000 bytes)" in error["message"] and "RAG_MAX_FILE_BYTES" in error["message"]
        assert client.get("/v1/collections/docs1/documents").json()["total"] == 0


def test_docx_bombs_fail_alone_at_once_with_a_reason(live_server) -> None:  # type: ignore[no-untyped-def]
    """Two small .docx files that unpack to 210,000 paragraphs and to 120 MB of XML, beside a normal file."""
    bombs = [("paragraphs.docx", paragraph_bomb(210_000)), ("inflated.docx", size_bomb(120 * MB))]
    assert all(len(data) < 200_000 for _, data in bombs)
    with httpx.Client(base_url=live_server(), timeout=300) as client:
        create(client)
        started = time.monotonic()
        response = upload(client, [*bombs, ("normal.txt", b"The lighthouse lamp is model L7.")])
        elapsed = time.monotonic() - started
        assert response.status_code == 201, response.text
        results = {r["filename"]: r for r in response.json()["results"]}
        assert results["normal.txt"]["status"] == "ingested"
        assert results["paragraphs.docx"]["status"] == "failed" and results["paragraphs.docx"]["status_code"] == 413
        assert "200,000 paragraphs" in results["paragraphs.docx"]["reason"]
        assert results["inflated.docx"]["status"] == "failed" and "unpacks to" in results["inflated.docx"]["reason"]
        assert elapsed < 60, f"the bombs took {elapsed:.0f}s to refuse"


def test_a_line_without_breaks_is_cut_into_chunks_the_encoder_can_read(live_server, embedder) -> None:  # type: ignore[no-untyped-def]
    """2 MB without whitespace and 300 KB on one line with spaces: every chunk within the token and character
    budget, and a search answers kilobytes, not megabytes."""
    no_space = "Z" * (2 * MB)
    one_line = " ".join(f"item{i % 97} value{i % 13}" for i in range(25_000))
    # Ingested before the response (by default texts this long become jobs), to read the chunks at once.
    with httpx.Client(base_url=live_server(sync_upload_text_bytes=4 * MB), timeout=600) as client:
        create(client)
        for name, text in (("nospace.txt", no_space), ("oneline.txt", one_line)):
            response = client.post("/v1/collections/docs1/documents", json={"text": text, "filename": name})
            assert response.status_code == 201, response.text
            chunks, offset = [], 0
            while True:
                page = client.get(f"/v1/collections/docs1/documents/{name}/chunks?limit=500&offset={offset}").json()
                chunks += page["chunks"]
                offset += 500
                if offset >= page["total"]:
                    break
            assert len(chunks) > 50
            assert max(len(c["text"]) for c in chunks) <= 200 * 16
            assert max(embedder.count_tokens(c["text"]) for c in chunks[:: max(1, len(chunks) // 200)]) <= 200
            assert all(text[c["start_char"] : c["end_char"]] == c["text"] for c in chunks[:50])
        search = client.post("/v1/search", json={"query": "item12 value3 ZZZZ", "collection": "docs1", "top_k": 10})
        assert search.status_code == 200 and len(search.content) < 100_000
