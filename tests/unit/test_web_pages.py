"""What the web connector reads from a page or a sitemap: links, robots meta tags, main text, sitemap URLs."""

from __future__ import annotations

import gzip

from ingest.connectors.web_pages import main_text_html, page_links, parse_sitemap
from ingest.loaders.html import load_html

PARAGRAPH = "Employees file leave requests in PeopleHub at least two weeks before the planned absence date."


def test_links_are_absolute_without_fragments_each_once_and_only_to_web_pages() -> None:
    html = b"""<html><head><base href="/docs/"></head><body>
        <a href="guide.html#setup">Guide</a> <a href="guide.html">Again</a> <a href="/faq">FAQ</a>
        <a href="mailto:hr@example.org">Mail</a> <a href="javascript:void(0)">Menu</a>
        <a href="https://other.example.org/x">Elsewhere</a></body></html>"""
    found = page_links(html, "https://intranet.example.org/start/index.html")
    assert found.links == ["https://intranet.example.org/docs/guide.html", "https://intranet.example.org/faq",
                           "https://other.example.org/x"]  # fmt: skip
    assert found.index and found.follow


def test_robots_meta_tags_say_whether_a_page_is_indexed_and_its_links_followed() -> None:
    noindex = page_links(b'<html><head><meta name="ROBOTS" content="noindex, follow"></head></html>', "http://h/")
    assert not noindex.index and noindex.follow
    none = page_links(b'<html><head><meta name="robots" content="none"></head></html>', "http://h/")
    assert not none.index and not none.follow
    assert page_links(b"", "http://h/").links == []  # an empty page links nowhere


def test_main_text_drops_menus_and_footers_and_keeps_the_title_for_the_loader() -> None:
    html = f"""<html><head><title>Leave policy</title></head><body>
        <nav><a href="/">Home</a> | <a href="/about">About us</a></nav>
        <main><article><h1>Leave policy</h1><p>{PARAGRAPH}</p><p>{PARAGRAPH} Ask the HR desk.</p></article></main>
        <footer>Cookie settings. All rights reserved by Example Corp.</footer></body></html>""".encode()
    loaded = load_html(main_text_html(html, "https://intranet.example.org/leave"))
    text = loaded.pages[0].text
    assert loaded.title == "Leave policy" and "two weeks before the planned absence" in text
    assert "All rights reserved" not in text and "About us" not in text


def test_a_sitemap_lists_its_pages_an_index_its_sitemaps_and_anything_else_is_none() -> None:
    urlset = b"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
        <!-- generated --><url><loc> https://h/a </loc><lastmod>2026-01-01</lastmod></url><url><loc>https://h/b</loc>
        </url><url><loc></loc></url></urlset>"""
    pages = parse_sitemap(urlset)
    assert pages is not None and pages.pages == ["https://h/a", "https://h/b"] and pages.sitemaps == []
    index = parse_sitemap(gzip.compress(b"<sitemapindex><sitemap><loc>https://h/s1.xml</loc></sitemap></sitemapindex>"))
    assert index is not None and index.sitemaps == ["https://h/s1.xml"] and index.pages == []
    assert parse_sitemap(b"<html><body>not a sitemap</body></html>") is None
    assert parse_sitemap(b"<urlset><unclosed>") is None
    entity = (b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
              b"<urlset><url><loc>&x;</loc></url></urlset>")  # fmt: skip
    parsed = parse_sitemap(entity)
    assert parsed is None or all("root:" not in page for page in parsed.pages)  # no external entity is read
