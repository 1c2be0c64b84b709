"""Names that come from outside (uploaded file names, document ids, paths): made harmless and kept readable.

A name is only ever a label or an id, never a path we open, but it still reaches listings, logs and
prompts: invisible control and bidi characters (e.g. U+202E, which shows `exe.txt` as `txt.exe`) are
removed, and a name too long to show is shortened without losing the extension that picks its loader.
"""

from __future__ import annotations

import unicodedata

MAX_NAME_CHARS = 255
_MAX_SUFFIX_CHARS = 16  # longer "extensions" (a dot deep inside a long name) are not extensions
# Cc: C0/C1 controls; Cf: format characters (bidi overrides and isolates, zero-width marks, BOM);
# Cs: lone surrogates; Zl/Zp: line and paragraph separators. Names people type contain none of these.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def strip_invisible(text: str) -> str:
    """`text` without control, format (bidi) and separator characters; other text unchanged."""
    if text.isprintable():  # the common case: nothing to remove (printable excludes every category above)
        return text
    return "".join(ch for ch in text if unicodedata.category(ch) not in _INVISIBLE)


def shorten(name: str, limit: int = MAX_NAME_CHARS) -> str:
    """At most `limit` characters, cut in the middle of the stem so the extension survives."""
    if len(name) <= limit:
        return name
    stem, dot, suffix = name.rpartition(".")
    if dot and stem and "/" not in suffix and len(suffix) + 1 <= _MAX_SUFFIX_CHARS:
        return stem[: limit - len(suffix) - 1] + "." + suffix
    return name[:limit]


def clean_name(raw: str) -> str:
    """A document id or label as stored: invisible characters removed, outer spaces trimmed, shortened."""
    return shorten(strip_invisible(raw).strip())


def display_filename(raw: str | None) -> str:
    """A client's filename reduced to a harmless base name (no directories, no leading dots)."""
    base = strip_invisible(raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    return clean_name(base.strip().lstrip(".")) or "upload"
