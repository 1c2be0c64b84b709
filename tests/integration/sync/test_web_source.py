"""The `web` connector against a real local web site (tests/integration/sync/website.py), into the real
pipeline: a crawl within the prefix that honours robots.txt, a resync that gets only 304s, a changed page
re-ingested, a page gone removed, a failing page failing alone, a sitemap, and the page limit."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from ingest.connectors import ConnectorContext, SourceUnavailable, open_connector
from ingest.jobs.sync_jobs import run_sync, source_workdir
from ingest.pipeline import IngestPipeline
from ingest.syncing import SyncReport
from rag.storage.sources import SourceRecord, SourceStore, open_source_store
from tests.conftest import make_pdf
from tests.integration.sync.website import Website, website

POLICY = "Employees file {name} requests in PeopleHub at least two weeks before the planned date."


def page(title: str, text: str, links: list[str] = ()) -> str:  # type: ignore[assignment]
    nav = " | ".join(f'<a href="{href}">{href}</a>' for href in links)
    return (
        f"<html><head><title>{title}</title></head><body><nav>{nav}</nav>"
        f"<main><article><h1>{title}</h1><p>{text}</p><p>{text} Ask the HR desk when in doubt.</p></article></main>"
        "<footer>Cookie settings. All rights reserved by Example Corp.</footer></body></html>"
    )


@pytest.fixture
def site() -> Iterator[Website]:
    with website() as served:
        yield served


def _add(store: SourceStore, location: str, **options: object) -> SourceRecord:
    return store.add(SourceRecord("src-web", "kb", "web", location, dict(options), created_at="2026-01-01"))


def _sync(pipeline: IngestPipeline, store: SourceStore) -> SyncReport:
    record = store.get("src-web")
    assert record is not None
    return run_sync(record, pipeline, store)


def _origins(pipeline: IngestPipeline) -> dict[str, str]:
    return {d.document_id: d.metadata["origin"] for d in pipeline.registry.documents("kb")}


def test_a_crawl_stays_in_its_prefix_honours_robots_and_a_resync_gets_only_304s(
    site: Website, pipeline: IngestPipeline
) -> None:
    host = site.url.removeprefix("http://")
    site.set("/robots.txt", "User-agent: *\nDisallow: /docs/private/\n", content_type="text/plain")
    site.set("/docs/", page("Handbook", POLICY.format(name="leave"),
                            ["leave.html", "private/salaries.html", "/blog/news.html", "handbook.pdf", "gone.html",
                             "http://127.0.0.2:9/elsewhere.html"]))  # fmt: skip
    site.set("/docs/leave.html", page("Leave", POLICY.format(name="parental leave"), ["/docs/"]))
    site.set("/docs/private/salaries.html", page("Salaries", "Secret salary bands."))
    site.set("/blog/news.html", page("News", "Out of the prefix."))
    site.set("/docs/handbook.pdf", make_pdf(["Travel expenses are reimbursed within thirty days of the claim."]),
             content_type="application/pdf")  # fmt: skip
    store = open_source_store(pipeline.settings)
    _add(store, f"{site.url}/docs/")

    first = _sync(pipeline, store)
    assert first.counts == {"added": 3, "changed": 0, "removed": 0, "unchanged": 0, "failed": 0}
    origins = _origins(pipeline)
    assert origins == {f"src-web/{host}/docs/": f"{site.url}/docs/",
                       f"src-web/{host}/docs/leave.html": f"{site.url}/docs/leave.html",
                       f"src-web/{host}/docs/handbook.pdf": f"{site.url}/docs/handbook.pdf"}  # fmt: skip
    requests = site.requests()
    fetched = {path for path, _, _ in requests}
    assert all(n == 1 for n in Counter(path for path, _, _ in requests).values())  # each page fetched once
    assert "/docs/private/salaries.html" not in fetched and "/blog/news.html" not in fetched  # robots; the prefix
    leave = " ".join(c.text for c in pipeline.keyword.document_chunks("kb", f"src-web/{host}/docs/leave.html"))
    assert "parental leave requests" in leave and "All rights reserved" not in leave  # main text, no footer
    pdf = " ".join(c.text for c in pipeline.keyword.document_chunks("kb", f"src-web/{host}/docs/handbook.pdf"))
    assert "reimbursed within thirty days" in pdf  # a linked file goes through its own loader

    again = _sync(pipeline, store)
    assert again.counts["unchanged"] == 3 and again.results == []
    pages = [(path, status, sent) for path, status, sent in site.requests() if path != "/robots.txt"]
    assert {(path, status) for path, status, _ in pages if status != 404} == {
        ("/docs/", 304), ("/docs/leave.html", 304), ("/docs/handbook.pdf", 304)}  # fmt: skip
    assert sum(sent for _, status, sent in pages if status != 404) == 0  # no page body read

    site.set("/docs/leave.html", page("Leave", POLICY.format(name="sabbatical leave"), ["/docs/"]))
    site.set("/docs/handbook.pdf", b"", status=404)
    third = _sync(pipeline, store)
    assert third.counts == {"added": 0, "changed": 1, "removed": 1, "unchanged": 1, "failed": 0}
    leave = " ".join(c.text for c in pipeline.keyword.document_chunks("kb", f"src-web/{host}/docs/leave.html"))
    assert "sabbatical leave" in leave and "parental" not in leave
    assert set(_origins(pipeline)) == {f"src-web/{host}/docs/", f"src-web/{host}/docs/leave.html"}


def test_redirects_are_followed_within_the_site_and_a_failing_page_fails_alone(
    site: Website, pipeline: IngestPipeline
) -> None:
    site.set("/", page("Home", POLICY.format(name="home office"), ["/a.html", "/b.html", "/moved", "/off"]))
    site.set("/a.html", page("A", POLICY.format(name="travel")))
    site.set("/b.html", page("B", POLICY.format(name="training")))
    site.set("/moved", b"", status=301, location="/c.html")
    site.set("/c.html", page("C", POLICY.format(name="relocation")))
    site.set("/off", b"", status=302, location="http://127.0.0.2:9/inside.html")  # never requested
    store = open_source_store(pipeline.settings)
    _add(store, f"{site.url}/")
    assert _sync(pipeline, store).counts["added"] == 4
    host = site.url.removeprefix("http://")
    assert f"src-web/{host}/c.html" in _origins(pipeline)
    site.set("/b.html", b"", status=503)
    report = _sync(pipeline, store)
    assert report.counts == {"added": 0, "changed": 0, "removed": 0, "unchanged": 3, "failed": 1}
    assert "503" in (report.failures[0].reason or "")
    assert len(_origins(pipeline)) == 4  # the failing page's document is kept until it answers again
    site.set("/b.html", page("B", POLICY.format(name="training")))
    assert _sync(pipeline, store).counts["failed"] == 0


def test_a_start_url_that_does_not_answer_fails_the_sync_and_removes_nothing(
    site: Website, pipeline: IngestPipeline
) -> None:
    site.set("/", page("Home", POLICY.format(name="home office")))
    store = open_source_store(pipeline.settings)
    _add(store, f"{site.url}/")
    _sync(pipeline, store)
    site.set("/", b"", status=500)
    with pytest.raises(SourceUnavailable):
        _sync(pipeline, store)
    assert len(_origins(pipeline)) == 1
    record = store.get("src-web")
    assert record is not None and record.last_status == "failed" and "500" in (record.last_error or "")


def test_a_sitemap_lists_the_pages_with_last_modified_and_the_page_limit_cuts(
    site: Website, pipeline: IngestPipeline
) -> None:
    urls = "".join(f"<url><loc>{site.url}{path}</loc></url>" for path in
                   ["/kb/a.html", "/kb/b.html", "/kb/c.html", "/elsewhere/d.html"])  # fmt: skip
    site.set("/kb/sitemap.xml", f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             f"{urls}</urlset>", content_type="application/xml")  # fmt: skip
    for name in "abcd":
        site.set(f"/kb/{name}.html", page(name, POLICY.format(name=f"topic {name}")), validators="modified")
    store = open_source_store(pipeline.settings)
    _add(store, f"{site.url}/kb/sitemap.xml", max_items=2)
    assert _sync(pipeline, store).counts["added"] == 2
    host = site.url.removeprefix("http://")
    assert set(_origins(pipeline)) == {f"src-web/{host}/kb/a.html", f"src-web/{host}/kb/b.html"}
    site.requests()
    assert _sync(pipeline, store).counts["unchanged"] == 2
    assert {status for path, status, _ in site.requests() if path.endswith(".html")} == {304}  # If-Modified-Since


def test_a_sync_cut_off_after_listing_still_reingests_the_page_the_next_one_gets_a_304_for(
    site: Website, pipeline: IngestPipeline
) -> None:
    site.set("/", page("Home", POLICY.format(name="home office"), ["/a.html"]))
    site.set("/a.html", page("A", POLICY.format(name="travel")))
    store = open_source_store(pipeline.settings)
    record = _add(store, f"{site.url}/")
    _sync(pipeline, store)
    site.set("/a.html", page("A", POLICY.format(name="conference travel")))
    context = ConnectorContext(record.id, source_workdir(pipeline.settings, record.id), None)
    assert len(list(open_connector("web", record.location, {}, context).list_items())) == 2  # then killed
    site.requests()

    report = _sync(pipeline, store)  # the server now answers 304 for the page this sync never ingested
    assert report.counts == {"added": 0, "changed": 1, "removed": 0, "unchanged": 1, "failed": 0}
    assert ("/a.html", 304) in {(path, status) for path, status, _ in site.requests()}
    host = site.url.removeprefix("http://")
    text = " ".join(c.text for c in pipeline.keyword.document_chunks("kb", f"src-web/{host}/a.html"))
    assert "conference travel" in text
