"""A real web site for the `web` connector's tests: a stdlib HTTP server on 127.0.0.1 (a free port, a thread)
serving pages a test sets and changes, answering conditional requests with 304 as real servers do, and
logging each request (path, status, body bytes sent) so a test can see what a sync fetched."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    validators: str = "etag"  # etag | modified | none
    modified_at: float = 1_700_000_000.0
    location: str | None = None  # with a 3xx status: where it redirects


@dataclass
class Website:
    url: str = ""
    pages: dict[str, Page] = field(default_factory=dict)
    log: list[tuple[str, int, int]] = field(default_factory=list)  # (path, status, body bytes sent)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, path: str, body: str | bytes, **page: object) -> None:
        with self.lock:
            self.pages[path] = Page(body.encode() if isinstance(body, str) else body, **page)  # type: ignore[arg-type]

    def requests(self) -> list[tuple[str, int, int]]:
        with self.lock:
            taken, self.log[:] = list(self.log), []
            return taken


class _Handler(BaseHTTPRequestHandler):
    site: Website

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        path = self.path.split("#", 1)[0]
        with self.site.lock:
            page = self.site.pages.get(path)
        if page is not None and page.location:
            self._send(path, page.status, b"", {"Location": page.location})
            return
        if page is None or page.status != 200:
            status = page.status if page else 404
            self._send(path, status, b"not here" if status == 404 else b"failed", {"Content-Type": "text/plain"})
            return
        headers = {"Content-Type": page.content_type}
        etag = f'"{hashlib.sha256(page.body).hexdigest()[:16]}"'
        modified = formatdate(page.modified_at, usegmt=True)
        if page.validators == "etag":
            headers["ETag"] = etag
            fresh = self.headers.get("If-None-Match") == etag
        elif page.validators == "modified":
            headers["Last-Modified"] = modified
            fresh = self.headers.get("If-Modified-Since") == modified
        else:
            fresh = False
        self._send(path, 304, b"", headers) if fresh else self._send(path, 200, page.body, headers)

    def _send(self, path: str, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)
        with self.site.lock:
            self.site.log.append((path, status, 0 if status == 304 else len(body)))

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (quiet test output)
        pass


@contextmanager
def website() -> Iterator[Website]:
    site = Website()
    handler = type("Handler", (_Handler,), {"site": site})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
