"""EPUB: the book's chapters in reading (spine) order, each read like an HTML page, each a section of its own.

Read straight from the zip: the container names the package file, whose spine lists the chapters. Parsed
with BeautifulSoup's HTML parser, which expands no entities, so a hostile package cannot inflate itself.
"""

from __future__ import annotations

import io
import posixpath
import warnings
import zipfile
from urllib.parse import unquote

from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

from ingest.loaders.archive import check_archive
from ingest.loaders.base import LoadedDocument, Page
from ingest.loaders.encoding import decode_text
from ingest.loaders.html import INVISIBLE_TAGS, visible_text
from rag.errors import InvalidInput

_CONTAINER = "META-INF/container.xml"
_CHAPTER_TYPES = ("application/xhtml+xml", "text/html")


def load_epub(data: bytes) -> LoadedDocument:
    check_archive(data, ".epub")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)  # XHTML and XML read as HTML, on purpose
        return _read(data)


def _read(data: bytes) -> LoadedDocument:
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
        container = BeautifulSoup(book.read(_CONTAINER), "html.parser")
        rootfile = container.find("rootfile")
        package_path = str(rootfile.get("full-path", "")) if rootfile else ""
        package = BeautifulSoup(book.read(package_path), "html.parser")
        base = posixpath.dirname(package_path)
        manifest = {
            str(item.get("id")): (posixpath.normpath(posixpath.join(base, unquote(str(item.get("href"))))), item)
            for item in package.find_all("item")
            if item.get("id") and item.get("href")
        }
        pages = []
        for itemref in package.find_all("itemref"):
            path, item = manifest.get(str(itemref.get("idref")), ("", None))
            if item is None or item.get("media-type") not in _CHAPTER_TYPES:
                continue
            pages.append(Page(_chapter_text(book.read(path))))
    except KeyError as exc:  # a part the package names is missing
        raise InvalidInput(f"corrupt or unreadable .epub (missing part: {exc})") from exc
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise InvalidInput(f"corrupt or unreadable .epub ({type(exc).__name__}: {exc})") from exc
    title = package.find("dc:title")
    return LoadedDocument(pages=pages, title=title.get_text(strip=True) if title else None)


def _chapter_text(data: bytes) -> str:
    """A chapter's visible text (its <title> repeats its heading, and is left out like a page's <head>)."""
    soup = BeautifulSoup(decode_text(data, html=True), "html.parser")
    for tag in soup(INVISIBLE_TAGS):
        tag.decompose()
    return visible_text(soup)
