"""HTML: visible text only (no scripts, styles or markup)."""

from __future__ import annotations

from bs4 import BeautifulSoup

from ingest.loaders.base import LoadedDocument, Page
from ingest.loaders.encoding import decode_text

INVISIBLE_TAGS = ["script", "style", "noscript", "template", "head", "svg", "iframe"]


def load_html(data: bytes) -> LoadedDocument:
    markup = decode_text(data, html=True)
    soup = BeautifulSoup(markup, "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else None
    for tag in soup(INVISIBLE_TAGS):
        tag.decompose()
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    text = "\n".join(line for line in lines if line)
    if title:
        text = f"{title}\n{text}"
    return LoadedDocument(pages=[Page(text)], title=title)
