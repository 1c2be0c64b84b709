"""What the `web` connector reads from a page or a sitemap: the links to follow, what robots meta tags
allow, the page's main text (trafilatura), and the page URLs a sitemap lists. Pure functions over bytes."""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from html import escape
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.etree
import lxml.html
import trafilatura

MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemap protocol's own limit for one (uncompressed) file
_XML_PARSER = lxml.etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


@dataclass(frozen=True)
class PageLinks:
    links: list[str]  # absolute, without fragment, in page order, each once
    index: bool  # false when the page says <meta name="robots" content="noindex">
    follow: bool  # false when it says nofollow


def page_links(body: bytes, url: str) -> PageLinks:
    """The `<a href>` targets of an HTML page, resolved against its URL (or its `<base href>`)."""
    try:
        document = lxml.html.fromstring(body)
    except (lxml.etree.ParserError, ValueError):  # an empty or undecodable page links nowhere
        return PageLinks([], True, True)
    robots = " ".join(document.xpath("//meta[translate(@name,'ROBTS','robts')='robots']/@content")).lower()
    base = next(iter(document.xpath("//base/@href")), None)
    base_url = urljoin(url, str(base)) if base else url
    links: dict[str, None] = {}
    for href in document.xpath("//a[@href]/@href"):
        target = urldefrag(urljoin(base_url, str(href).strip())).url
        if urlsplit(target).scheme in ("http", "https"):
            links.setdefault(target)
    return PageLinks(list(links), "noindex" not in robots and "none" not in robots,
                     "nofollow" not in robots and "none" not in robots)  # fmt: skip


def main_text_html(body: bytes, url: str) -> bytes:
    """The page's main text as plain HTML (headings, paragraphs, lists, tables; no menus, footers or ads),
    titled with the page's title, for the HTML loader. trafilatura does the extraction: boilerplate removal
    is a hard, well-studied problem and its heuristics are maintained against real sites. A page it finds
    no main text in (a short page, a list of links) goes to the loader whole: its visible text is better
    than nothing."""
    extracted = trafilatura.extract(body, url=url, output_format="html", include_tables=True, favor_recall=True)
    if not extracted:
        return body
    metadata = trafilatura.extract_metadata(body, default_url=url)
    if metadata and metadata.title:  # trafilatura's HTML has no <head>: the loader takes the title from there
        extracted = extracted.replace("<html>", f"<html><head><title>{escape(metadata.title)}</title></head>", 1)
    return extracted.encode()


@dataclass(frozen=True)
class Sitemap:
    pages: list[str]  # page URLs (a <urlset>)
    sitemaps: list[str]  # nested sitemaps (a <sitemapindex>)


def parse_sitemap(body: bytes) -> Sitemap | None:
    """The URLs a sitemap lists (gzipped or not), or None when `body` is not a sitemap."""
    if body[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as unzipped:
            body = unzipped.read(MAX_SITEMAP_BYTES + 1)[:MAX_SITEMAP_BYTES]
    try:
        root = lxml.etree.fromstring(body, _XML_PARSER)
    except lxml.etree.XMLSyntaxError:
        return None
    kind = lxml.etree.QName(root).localname
    if kind not in ("urlset", "sitemapindex"):
        return None
    locations = [loc for loc in ((element.text or "").strip() for element in root.iter("{*}loc")) if loc]
    return Sitemap(locations, []) if kind == "urlset" else Sitemap([], locations)
