"""No request shape is a 500: filters, nesting, collection names and unparseable .docx, over real HTTP."""

from __future__ import annotations

import io
import json
import zipfile
from urllib.parse import quote

import httpx

from tests.integration.backends.test_api_backends import assert_contract

SEARCH = {"query": "annual leave days", "collection": "shapes"}
BAD_FILTERS: list[tuple[str, str]] = [  # (what, the filters as raw JSON: NaN and Infinity are not JSON)
    ("an empty list", '{"team": []}'),
    ("a mixed-type list", '{"team": ["hr", 1]}'),
    ("a $ operator key", '{"$or": "hr"}'),
    ("a key with a quote", '{"te\\"am": "hr"}'),
    ("a key with NUL", '{"te\\u0000am": "hr"}'),
    ("an integer too large for SQLite", '{"year": 1' + "0" * 30 + "}"),
    ("NaN", '{"year": NaN}'),
    ("Infinity", '{"year": Infinity}'),
    ("a 100,000-item list", json.dumps({"team": [f"t{i}" for i in range(100_000)]})),
    ("a nested object", '{"team": {"$ne": "hr"}}'),
    ("17 keys", json.dumps({f"k{i}": 1 for i in range(17)})),
]


def _post_raw(client: httpx.Client, path: str, raw: str) -> httpx.Response:
    return client.post(path, content=raw.encode(), headers={"content-type": "application/json"}, timeout=120)


def _create_with_leave_policy(client: httpx.Client, name: str = "shapes") -> None:
    assert client.post("/v1/collections", json={"name": name}).status_code == 201
    text = "Annual leave: full-time employees receive 25 days of paid annual leave per year."
    body = {"text": text, "filename": "leave.txt", "metadata": {"team": "hr", "year": 2024}}
    response = client.post(f"/v1/collections/{quote(name, safe='')}/documents", json=body)
    assert response.status_code == 201, response.text


def test_filters_outside_the_grammar_are_refused_before_the_store_sees_them(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server(), timeout=120) as client:
        _create_with_leave_policy(client)
        for what, filters in BAD_FILTERS:
            search = _post_raw(
                client, "/v1/search", f'{{"query": "leave", "collection": "shapes", "filters": {filters}}}'
            )
            query = f'{{"question": "leave?", "collection": "shapes", "retrieval": {{"filters": {filters}}}}}'
            chat = f'{{"messages": [{{"role": "user", "content": "leave?"}}], "collection": "shapes", "retrieval": {{"filters": {filters}}}}}'  # noqa: E501
            assert search.status_code == 422, (what, search.text)
            assert_contract(search, 422)
            assert_contract(_post_raw(client, "/v1/query", query), 422)
            assert_contract(_post_raw(client, "/v1/chat/completions", chat), 400)  # OpenAI's status for bad requests
        for good in ({"team": "hr"}, {"team": ["it", "hr"]}, {"year": 2024}, {"year": [2023, 2024]}):
            results = client.post("/v1/search", json={**SEARCH, "filters": good}).json()["results"]
            assert [r["filename"] for r in results] == ["leave.txt"], good
        assert client.post("/v1/search", json={**SEARCH, "filters": {"team": "it"}}).json()["results"] == []


def test_upload_metadata_outside_the_grammar_is_refused(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server(), timeout=120) as client:
        assert client.post("/v1/collections", json={"name": "shapes"}).status_code == 201
        for metadata in ('{"$set": 1}', '{"x": NaN}', '{"x": 1' + "0" * 30 + "}", '{"a\\"b": 1}', '{"x": "a\\u0000"}'):
            text_body = f'{{"text": "Some text.", "filename": "a.txt", "metadata": {metadata}}}'
            assert_contract(_post_raw(client, "/v1/collections/shapes/documents", text_body), 422)
            files = {"files": ("a.txt", b"Some text.")}
            assert_contract(
                client.post("/v1/collections/shapes/documents", files=files, data={"metadata": metadata}), 422
            )
        deep = "[" * 50_000 + "]" * 50_000
        files = {"files": ("a.txt", b"Some text.")}
        assert_contract(client.post("/v1/collections/shapes/documents", files=files, data={"metadata": deep}), 422)
        assert client.get("/v1/collections/shapes").json()["documents"] == 0


def test_deeply_nested_json_is_a_4xx_on_every_json_route(live_server) -> None:  # type: ignore[no-untyped-def]
    deep = "[" * 100_000 + "]" * 100_000
    # Under the interpreter's recursion limit, but deeper than any request of ours needs.
    nested = '{"messages": [{"role": "user", "content": "hi"}], "use_context": false, "response_format": '
    nested += '{"a": ' * 500 + "1" + "}" * 500 + "}"
    with httpx.Client(base_url=live_server(), timeout=120) as client:
        assert client.post("/v1/collections", json={"name": "shapes"}).status_code == 201
        for path in ("/v1/search", "/v1/query", "/v1/collections", "/v1/chat/completions", "/v1/summarize"):
            assert_contract(_post_raw(client, path, deep), 400)
        assert_contract(_post_raw(client, "/v1/collections/shapes/documents", deep), 422)  # as its other bad bodies
        error = assert_contract(_post_raw(client, "/v1/chat/completions", nested), 400)
        assert "nested deeper" in error["message"]
        assert_contract(_post_raw(client, "/v1/chat/completions", '{"messages": NaN}'), 400)


NAMES = ["192.168.1.1", "hr", "kb", "x", "Équipe RH", "名前 2024", "a" * 128, "rag-docs", "with space & symbols!"]
REFUSED = ["", "a" * 129, "a/b", " hr", "hr ", "tab\tname", "line\nbreak", "\u202eevil", ".", ".."]


def test_any_printable_collection_name_works_end_to_end(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server(), timeout=120) as client:
        for name in NAMES:
            _create_with_leave_policy(client, name)
            path = f"/v1/collections/{quote(name, safe='')}"
            assert client.get(path).json()["documents"] == 1, name
            hits = client.post("/v1/search", json={**SEARCH, "collection": name}).json()["results"]
            assert [h["filename"] for h in hits] == ["leave.txt"], name
            assert client.get(f"{path}/documents/leave.txt").status_code == 200
        assert sorted(c["name"] for c in client.get("/v1/collections").json()["collections"]) == sorted(NAMES)
        for name in REFUSED:
            assert_contract(client.post("/v1/collections", json={"name": name}), 422)
        assert client.delete("/v1/collections/192.168.1.1").status_code == 204
        assert_contract(client.post("/v1/search", json={**SEARCH, "collection": "192.168.1.1"}), 404)
        assert len(client.post("/v1/search", json={**SEARCH, "collection": "hr"}).json()["results"]) == 1


def _docx_nested_too_deep() -> bytes:
    """A .docx whose document.xml nests deeper than lxml parses by default (256 levels)."""
    import docx

    buffer = io.BytesIO()
    docx.Document().save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml":
                data = data.replace(b"<w:body>", b"<w:body>" + b"<w:sdt>" * 300 + b"</w:sdt>" * 300, 1)
            target.writestr(item, data)
    return out.getvalue()


def test_a_docx_lxml_refuses_fails_alone_with_its_reason(live_server) -> None:  # type: ignore[no-untyped-def]
    bad = _docx_nested_too_deep()
    with httpx.Client(base_url=live_server(), timeout=120) as client:
        assert client.post("/v1/collections", json={"name": "shapes"}).status_code == 201
        alone = client.post("/v1/collections/shapes/documents", files={"files": ("deep.docx", bad)})
        assert ".docx" in assert_contract(alone, 400)["message"]
        parts = [("files", ("deep.docx", bad)), ("files", ("fine.txt", b"The canteen opens at noon."))]
        results = client.post("/v1/collections/shapes/documents", files=parts).json()["results"]
        assert [(r["filename"], r["status"], r["status_code"]) for r in results] == [
            ("deep.docx", "failed", 400), ("fine.txt", "ingested", None),
        ]  # fmt: skip
        assert "XMLSyntaxError" in results[0]["reason"]
