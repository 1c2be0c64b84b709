"""The `web` connector: the pages of a web site under one host and path prefix, found by following links
from a start URL or listed by a sitemap (a location ending in `.xml` or `.xml.gz`).

Each page is fetched with the validators the last sync got (If-None-Match / If-Modified-Since), and the
marker is its ETag (else its Last-Modified, else a hash of its bytes): a site that answers 304 sends no
page body for an unchanged page, and the links it had are taken from the work folder's cache, so a resync
of an unchanged site reads nothing but 304s. A changed page's body is kept in the work folder until the
engine reads it (once). HTML pages become their main text (web_pages.main_text_html); other files a page
links to (PDF, Office, ...) go to their loaders as they are. `robots.txt` is honoured (its rules and its
crawl delay), as are `<meta name="robots">` noindex and nofollow. A page that is gone (404, 410, or
forbidden) is no item, so the sync removes its document; one that fails for a while (5xx, a time-out) is
listed and fails alone, keeping its document; a start URL or robots.txt that cannot be read fails the sync.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from ingest.connectors.base import ConnectorContext, Item, SourceUnavailable
from ingest.connectors.web_pages import main_text_html, page_links, parse_sitemap
from ingest.loaders import is_supported
from rag.errors import InvalidInput

USER_AGENT = "rag-sync/1.0"  # the name robots.txt rules address this crawler by
DEFAULT_MAX_PAGES = 1000  # a site crawled without `max_items` stops here
MAX_BODY_BYTES = 100 * 1024 * 1024
MAX_CRAWL_DELAY_S = 30.0  # a robots.txt asking for more still gets its pages, this far apart
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_PAGE_SUFFIXES = {"", ".html", ".htm", ".xhtml", ".php", ".asp", ".aspx", ".jsp", ".shtml", ".cgi"}
_GONE = {401, 403, 404, 410, 451}  # the page is not (or no longer) published to us


@dataclass
class _Fetched:
    """One URL's outcome in this sync."""

    item: Item | None
    links: list[str]
    redirect: bool = False


class WebConnector:
    def __init__(self, location: str, options: dict[str, Any], context: ConnectorContext) -> None:
        parts = urlsplit(location)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"a web source's location is an http(s) URL, not {location!r}")
        self.start = location
        self.host = parts.netloc.lower()
        self.sitemap = parts.path.endswith((".xml", ".xml.gz"))
        prefix = str(options.get("prefix") or parts.path.rsplit("/", 1)[0] + "/")
        self.prefix = prefix if prefix.startswith("/") else f"/{prefix}"
        self.max_pages = int(options.get("max_items") or DEFAULT_MAX_PAGES)
        self.cache_path = context.workdir / "web-cache.json"
        self.bodies = context.workdir / "bodies"
        self.cursor: str | None = None
        self._client = httpx.Client(
            headers={"User-Agent": USER_AGENT}, timeout=TIMEOUT, follow_redirects=False, max_redirects=5
        )
        self._robots = RobotFileParser()
        self._delay = 0.0
        self._last_request = 0.0

    def list_items(self) -> Iterator[Item]:
        previous = self._load_cache()
        shutil.rmtree(self.bodies, ignore_errors=True)
        self.bodies.mkdir(parents=True, exist_ok=True)
        self._read_robots()
        if not self._allowed(self.start) and not self.sitemap:
            raise SourceUnavailable(f"robots.txt of {self.host} disallows {self.start}")
        cache: dict[str, Any] = {}
        queue = deque(self._sitemap_pages() if self.sitemap else [self.start])
        seen, listed, requests = set(queue), 0, 0
        while queue and listed < self.max_pages and requests < 3 * self.max_pages:
            url = queue.popleft()
            if not self._allowed(url):
                continue
            requests += 1
            fetched = self._visit(url, previous.get(url), cache, must_exist=url == self.start)
            if fetched.item is not None:
                listed += 1
                yield fetched.item
            if self.sitemap and not fetched.redirect:
                continue  # the sitemap is the list of pages
            for link in fetched.links:
                if link not in seen and self._in_scope(link):
                    seen.add(link)
                    queue.append(link)
        if not listed:  # a moved site (a redirect out of the prefix) is not an empty one: nothing is removed
            raise SourceUnavailable(f"{self.start} leads to no page under {self.host}{self.prefix}")
        self._save_cache(cache)

    def read(self, item: Item) -> bytes:
        url = item.origin
        body_path = self._body_path(url)
        if body_path.exists():  # fetched while listing: not fetched twice
            data = body_path.read_bytes()
            body_path.unlink(missing_ok=True)
        else:  # listed from a 304 (a sync cut off after listing) or a failure: fetch it whole now
            response, data = self._get(url, {})
            if response.status_code != 200:
                raise SourceUnavailable(f"{url} answered {response.status_code}")
        return main_text_html(data, url) if (item.kind or "").endswith(".html") else data

    def _visit(self, url: str, known: dict[str, Any] | None, cache: dict[str, Any], must_exist: bool) -> _Fetched:
        """Fetch `url` (conditionally when the last sync knew it) and record what it is in `cache`."""
        headers = {}
        # A page's 304 is only of use with the links it had; a file needs none.
        if known and (known.get("links") is not None or known.get("kind") not in (None, "page.html")):
            headers = {k: v for k, v in (("If-None-Match", known.get("etag")),
                                         ("If-Modified-Since", known.get("modified"))) if v}  # fmt: skip
        try:
            response, data = self._get(url, headers)
        except SourceUnavailable as exc:
            if must_exist:
                raise
            return self._unreachable(url, known, cache, str(exc))
        status = response.status_code
        if status == 304 and known:
            cache[url] = known
            item = self._item(url, known) if known.get("index", True) else None
            return _Fetched(item, list(known.get("links") or []))
        if response.is_redirect:  # a link like any other: followed only within the prefix
            target = urljoin(url, response.headers.get("location", ""))
            return _Fetched(None, [target], redirect=True)
        if status in _GONE:
            if must_exist:
                raise SourceUnavailable(f"{url} answered {status}")
            return _Fetched(None, [])
        if status != 200:
            if must_exist:
                raise SourceUnavailable(f"{url} answered {status}")
            return self._unreachable(url, known, cache, f"answered {status}")
        kind = self._kind(url, response.headers.get("content-type", ""))
        etag, modified = response.headers.get("etag"), response.headers.get("last-modified")
        marker = f"etag:{etag}" if etag else f"modified:{modified}" if modified else f"sha256:{_sha(data)}"
        entry: dict[str, Any] = {"marker": marker, "etag": etag, "modified": modified, "kind": kind, "links": None}
        links: list[str] = []
        index = True
        if kind == "page.html":
            found = page_links(data, url)
            links, index = (found.links if found.follow else []), found.index
            entry["links"], entry["index"] = links, index
        cache[url] = entry
        if kind is None or not index:
            return _Fetched(None, links)
        self._body_path(url).write_bytes(data)
        return _Fetched(self._item(url, entry, len(data)), links)

    def _unreachable(self, url: str, known: dict[str, Any] | None, cache: dict[str, Any], why: str) -> _Fetched:
        """A page that fails for now: listed (so it fails alone and keeps its document), its links as known."""
        entry = dict(known or {"kind": self._kind(url, "")})
        entry["marker"] = f"unreachable:{why}"
        cache[url] = {**entry, "etag": None, "modified": None}
        if entry.get("kind") is None:
            return _Fetched(None, [])
        return _Fetched(self._item(url, entry), list(entry.get("links") or []))

    def _item(self, url: str, entry: dict[str, Any], size: int = 0) -> Item:
        parts = urlsplit(url)
        key = f"{parts.netloc}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
        return Item(key, str(entry["marker"]), size, url, kind=entry.get("kind"))

    def _kind(self, url: str, content_type: str) -> str | None:
        """The file name whose extension picks the loader: `page.html` for a page (its main text), the
        URL's own name for a file a loader reads, None for what no loader reads (images, archives, ...)."""
        name = PurePosixPath(urlsplit(url).path).name or "index"
        suffix = PurePosixPath(name).suffix.lower()
        media = content_type.split(";")[0].strip().lower()
        if media in ("text/html", "application/xhtml+xml") or not media and suffix in _PAGE_SUFFIXES:
            return "page.html"
        if suffix not in _PAGE_SUFFIXES and is_supported(Path(name)):
            return name
        return None

    def _get(self, url: str, headers: dict[str, str], follow: bool = False) -> tuple[httpx.Response, bytes]:
        """One GET, spaced by robots.txt's crawl delay, its body read up to MAX_BODY_BYTES. Redirects are
        not followed (but for robots.txt): each is checked against the prefix first, so a page cannot send
        the crawler to another host (an address inside the server's network, say)."""
        wait = self._last_request + self._delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_request = time.monotonic()
        try:
            with self._client.stream("GET", url, headers=headers, follow_redirects=follow) as response:
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > MAX_BODY_BYTES:
                        raise SourceUnavailable(f"{url} is over {MAX_BODY_BYTES:,} bytes")
                return response, bytes(data)
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"{url} could not be fetched: {exc}") from exc

    def _read_robots(self) -> None:
        parts = urlsplit(self.start)
        url = f"{parts.scheme}://{parts.netloc}/robots.txt"
        response, data = self._get(url, {}, follow=True)
        if response.status_code >= 500:  # robots.txt unknown: crawling now could break the site's rules
            raise SourceUnavailable(f"{url} answered {response.status_code}")
        self._robots.parse(data.decode("utf-8", "replace").splitlines() if response.status_code == 200 else [])
        self._delay = min(float(self._robots.crawl_delay(USER_AGENT) or 0), MAX_CRAWL_DELAY_S)

    def _sitemap_pages(self) -> list[str]:
        """The page URLs of the sitemap at the location (and of the sitemaps it lists, one level down)."""
        pending, pages = [self.start], []
        for depth in range(2):
            nested: list[str] = []
            for url in pending:
                response, data = self._get(url, {})
                sitemap = parse_sitemap(data) if response.status_code == 200 else None
                if sitemap is None:
                    if url == self.start:
                        raise SourceUnavailable(f"{url} is no sitemap (answered {response.status_code})")
                    continue
                pages += [page for page in sitemap.pages if self._in_scope(page)]
                nested += sitemap.sitemaps if depth == 0 else []
            pending = nested
        return list(dict.fromkeys(pages))

    def _in_scope(self, url: str) -> bool:
        parts = urlsplit(url)
        return (
            parts.scheme in ("http", "https")
            and parts.netloc.lower() == self.host
            and (parts.path or "/").startswith(self.prefix)
        )

    def _allowed(self, url: str) -> bool:
        return self._robots.can_fetch(USER_AGENT, url)

    def _body_path(self, url: str) -> Path:
        return self.bodies / hashlib.sha256(url.encode()).hexdigest()

    def _load_cache(self) -> dict[str, Any]:
        try:
            cache: dict[str, Any] = json.loads(self.cache_path.read_text())
            return cache
        except (OSError, ValueError):  # first sync, or a cache lost: every page is fetched whole
            return {}

    def _save_cache(self, cache: dict[str, Any]) -> None:
        """Written whole, then renamed: a sync killed while writing keeps the last complete cache."""
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.cache_path.with_suffix(".partial")
        partial.write_text(json.dumps(cache))
        partial.replace(self.cache_path)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
