"""Section paths and contextual chunk headers: the document's name and the headings above a chunk, said once.

A chunk that reads "The default is 500" means nothing on its own; "bash manual > PARAMETERS > HISTSIZE" in
front of it tells the encoder and BM25 which option it is about, so two pages that say the same thing about
different commands or offices can be told apart.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

SEPARATOR = " > "
MAX_CONTEXT_CHARS = 240  # about 50 tokens: the header must leave the chunk its place in the encoder's window
_LETTER = re.compile(r"[^\W\d_]")
_GENERIC_STEMS = {"index", "readme", "default", "document", "untitled", "main"}


def section_label(path: tuple[str, ...] | list[str]) -> str:
    """A heading path as one string (metadata values are scalars): "Chapter 3 > 3.2 Systemd init"."""
    return SEPARATOR.join(part.replace(SEPARATOR, " ") for part in path)


def document_name(title: str | None, filename: str) -> str | None:
    """What the document is called: its title, else its file name without extension when that reads as a name
    (three letters at least; "index.md" says nothing, so its folder's name stands in)."""
    if title and title.strip():
        return " ".join(title.split())
    path = PurePosixPath(filename.replace("\\", "/"))
    stem = path.stem
    if stem.lower() in _GENERIC_STEMS and path.parent.name:
        stem = path.parent.name
    stem = re.sub(r"[_\-.]+", " ", stem).strip()
    return stem if len(_LETTER.findall(stem)) >= 3 else None


def chunk_context(title: str | None, filename: str, section: tuple[str, ...]) -> str:
    """The header put before a chunk's text when it is embedded and keyword-indexed: "name > heading > sub"
    (a heading that repeats the name is said once); empty when there is nothing to say."""
    name = document_name(title, filename)
    path = list(section)
    if name and path and path[0].casefold() == name.casefold():
        path = path[1:]
    parts = ([name] if name else []) + path
    while len(section_label(parts)) > MAX_CONTEXT_CHARS and len(parts) > 1:
        parts.pop(1 if name and len(parts) > 2 else 0)  # the outer headings go first; the name and the nearest stay
    return section_label(parts)[:MAX_CONTEXT_CHARS]


def with_context(text: str, context: str | None) -> str:
    """The text the encoder and the keyword index see: the header on its own line, then the chunk."""
    return f"{context}\n{text}" if context else text
