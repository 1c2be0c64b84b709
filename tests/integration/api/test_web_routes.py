"""What the web page needs from the server, over real HTTP: the page and its assets, offline API docs,
cited PDF pages as images with the quote outlined, and the original files (kept, shared, removed)."""

from __future__ import annotations

import io
import re

import httpx
from PIL import Image

from tests.conftest import make_pdf
from tests.integration.api.test_documents_api import create, upload
from tests.integration.backends.test_api_backends import assert_contract

PAGES = ["Welcome. This handbook explains how we work together.",
         "Annual leave. Full-time employees receive 25 days of paid annual leave per year."]  # fmt: skip
QUOTE = "Full-time employees receive 25 days of paid annual leave per year."
DOCUMENT = "/v1/collections/{name}/documents/{document_id}"


def yellow_pixels(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(1 for r, g, b in image.getdata() if r > 220 and g > 180 and b < 170)


def test_the_page_and_the_api_docs_load_only_assets_the_server_has(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server()) as client:
        for page in ("/", "/docs", "/redoc"):
            response = client.get(page)
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
            assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
            assert assets and all(a.startswith(("/", "data:", "#")) for a in assets), assets
            for asset in (a for a in assets if a.startswith("/")):
                assert client.get(asset).status_code == 200, asset
        modules = re.findall(r'from "\./([a-z]+\.js)"', client.get("/ui/app.js").text)
        assert {"api.js", "ask.js", "upload.js"} <= set(modules)
        assert all(client.get(f"/ui/{m}").status_code == 200 for m in modules)
        # ReDoc stops at a JSON pointer into a `$defs` the OpenAPI document does not have.
        assert "#/$defs/" not in client.get("/openapi.json").text


def test_a_cited_pdf_page_renders_with_its_quote_outlined(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server(), timeout=60) as client:
        create(client)
        upload(client, [("handbook.pdf", make_pdf(PAGES)), ("notes.md", b"# Notes\n\nNothing to render here.")])
        page = "/v1/collections/docs1/documents/handbook.pdf/pages"
        plain = client.get(f"{page}/2.png")
        assert plain.status_code == 200 and plain.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(plain.content)).size[0] == 900
        assert plain.headers["x-highlighted-boxes"] == "0" and yellow_pixels(plain.content) == 0

        marked = client.get(f"{page}/2.png", params={"highlight": QUOTE, "width": 600})
        assert int(marked.headers["x-highlighted-boxes"]) >= 1 and yellow_pixels(marked.content) > 300
        assert Image.open(io.BytesIO(marked.content)).size[0] == 600
        # The quote is on page 2, not page 1: nothing to outline there.
        assert client.get(f"{page}/1.png", params={"highlight": QUOTE}).headers["x-highlighted-boxes"] == "0"

        assert "has 2 page(s)" in assert_contract(client.get(f"{page}/3.png"), 404)["message"]
        assert (
            "not a PDF"
            in assert_contract(client.get("/v1/collections/docs1/documents/notes.md/pages/1.png"), 404)["message"]
        )
        assert_contract(client.get(f"{page}/2.png", params={"width": 5000}), 422)
        assert_contract(client.get("/v1/collections/docs1/documents/missing.pdf/pages/1.png"), 404)


def test_originals_download_as_uploaded_and_go_when_no_document_needs_them(live_server) -> None:  # type: ignore[no-untyped-def]
    pdf = make_pdf(PAGES)
    with httpx.Client(base_url=live_server(), timeout=60) as client:
        create(client)
        upload(client, [("a.pdf", pdf), ("copy.pdf", pdf)])
        original = client.get("/v1/collections/docs1/documents/a.pdf/original")
        assert original.status_code == 200 and original.content == pdf
        assert original.headers["content-type"] == "application/pdf"
        assert 'filename="a.pdf"' in original.headers["content-disposition"]

        assert client.delete("/v1/collections/docs1/documents/a.pdf").status_code == 204
        assert_contract(client.get("/v1/collections/docs1/documents/a.pdf/original"), 404)
        # The same bytes under another id still have their copy.
        assert client.get("/v1/collections/docs1/documents/copy.pdf/original").content == pdf
        assert client.get("/v1/collections/docs1/documents/copy.pdf/pages/1.png").status_code == 200
        # A new version replaces the old file.
        upload(client, [("copy.pdf", make_pdf(["A different first page."]))])
        assert client.get("/v1/collections/docs1/documents/copy.pdf/original").content != pdf
        assert_contract(client.get("/v1/collections/docs1/documents/copy.pdf/pages/2.png"), 404)


def test_page_images_and_originals_need_the_api_key(live_server) -> None:  # type: ignore[no-untyped-def]
    url = live_server(api_keys="k1")
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer k1"}, timeout=60) as client:
        create(client)
        upload(client, [("a.pdf", make_pdf(PAGES))])
    for path in ("/v1/collections/docs1/documents/a.pdf/pages/1.png", "/v1/collections/docs1/documents/a.pdf/original"):
        assert_contract(httpx.get(url + path), 401)
        assert_contract(httpx.get(url + path, headers={"Authorization": "Bearer wrong"}), 401)
    assert httpx.get(url + "/").status_code == 200  # the page itself holds nothing: it asks for the key


def test_an_original_answers_the_type_its_loader_reads_and_the_document_lists_it(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server(), timeout=60) as client:
        create(client)
        upload(client, [("notes.md", b"# Notes\nThe office opens at 8am.")])
        # Text sent as JSON keeps the name it was given, whatever its extension: it is plain text.
        sent = client.post("/v1/collections/docs1/documents", json={"text": "Plain words.", "filename": "data.json"})
        assert sent.status_code == 201, sent.text
        markdown = client.get("/v1/collections/docs1/documents/notes.md/original")
        text = client.get("/v1/collections/docs1/documents/data.json/original")
        operation = client.get("/openapi.json").json()["paths"][f"{DOCUMENT}/original"]["get"]
    documented = set(operation["responses"]["200"]["content"])
    types = [r.headers["content-type"].split(";")[0] for r in (markdown, text)]
    assert types == ["text/markdown", "text/plain"] and set(types) <= documented
    assert "application/pdf" in documented and "application/octet-stream" not in documented
