"""How clean the text is that answers quote: markup left in Markdown chunks, and PDF lines removed as furniture.

    .venv/bin/python benchmarks/clean_text.py ../shared/eval/handbook-dev/docs /tmp/kb-dev-docs

For every `.md` under the folders: chunks (200 tokens, the default) whose text still holds `{%`, `](`, `|`,
`**` or `###`, read as raw text (as before Markdown was rendered) and through the Markdown loader. For every
`.pdf`: its lines, and how many the loader removed as running headers/footers and page numbers and as
contents/index entries. Prints JSON lines.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pypdf import PdfReader  # noqa: E402

from ingest.chunking import Chunker  # noqa: E402
from ingest.loaders import LoadedDocument, load_bytes  # noqa: E402
from ingest.loaders.furniture import _contents_entries, find_furniture  # noqa: E402
from ingest.loaders.text import load_text  # noqa: E402
from rag.retrieval.embeddings import load_embedder  # noqa: E402

MARKUP = ["{%", "](", "|", "**", "###"]


def markdown_figures(files: list[Path], chunker: Chunker) -> None:
    readers: dict[str, Callable[[Path], LoadedDocument]] = {
        "raw text": lambda path: load_text(path.read_bytes()),
        "markdown loader": lambda path: load_bytes(path.name, path.read_bytes(), 1 << 30),
    }
    for label, read in readers.items():
        chunks = [chunk.text for path in files for chunk in chunker.split(read(path))]
        with_markup = {mark: sum(mark in text for text in chunks) for mark in MARKUP}
        print(json.dumps({"markdown": label, "files": len(files), "chunks": len(chunks), "with": with_markup}))


def pdf_figures(path: Path) -> None:
    pages = [page.extract_text() or "" for page in PdfReader(path).pages]
    furniture = find_furniture(pages)
    contents = [_contents_entries(text.splitlines()) if len(pages) > 1 else set() for text in pages]
    lines = sum(len(text.splitlines()) for text in pages)
    entries = sum(len(c) for c in contents)
    removed = sum(len(f) for f in furniture)
    print(json.dumps({"pdf": path.name, "pages": len(pages), "lines": lines, "headers_footers_page_numbers":
                      removed - entries, "contents_entries": entries}))  # fmt: skip


def main() -> None:
    folders = [Path(arg) for arg in sys.argv[1:]] or [ROOT.parent / "shared" / "eval" / "handbook-dev" / "docs"]
    markdown = sorted(path for folder in folders for path in folder.rglob("*.md"))
    if markdown:
        embedder = load_embedder(None, 64, True)
        markdown_figures(markdown, Chunker(embedder.tokenize, embedder.max_seq_length, 200, 30, embedder.token_spans))
    for path in sorted(path for folder in folders for path in folder.rglob("*.pdf")):
        pdf_figures(path)


if __name__ == "__main__":
    main()
