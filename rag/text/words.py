"""Word-level text normalisation shared by the answer checker, the extractive answerer and answer scoring.

PDF text comes with ligatures (`ﬁle`), U+2212 minus signs in options (`−−login`) and non-breaking
spaces; answers written by a model use the plain forms. NFKC plus a few replacements make both sides
compare equal.
"""

from __future__ import annotations

import re
import unicodedata

from rag.text.analyzer import STOP_WORDS, WORD

_DASHES = str.maketrans({"\u2212": "-", "\u2010": "-", "\u2011": "-", "\u2013": "-", "\u2014": "-", "\u00ad": ""})
# Numbers (thousand separators and decimals kept together), versions like 10.7 or 2.24.1.
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])|(?<=[^\W\d_])\d+(?:\.\d+)*")
_MARKER = re.compile(r"\s*\[\d+\]")


def normalize(text: str) -> str:
    """NFKC (ligatures, full-width forms), unified dashes, no soft hyphens."""
    return unicodedata.normalize("NFKC", text).translate(_DASHES)


def strip_markers(text: str) -> str:
    """The text without `[n]` citation markers."""
    return _MARKER.sub("", text)


def words(text: str) -> list[str]:
    """Lower-cased word tokens of the normalised text."""
    return WORD.findall(normalize(text).lower())


def content_words(text: str) -> list[str]:
    """Word tokens without English stop words, `[n]` markers removed first."""
    return [w for w in words(strip_markers(text)) if w not in STOP_WORDS]


def numbers(text: str) -> set[str]:
    """Every number in the text, thousand separators dropped ("10,000" and "10000" compare equal)."""
    found = set()
    for match in _NUMBER.finditer(normalize(strip_markers(text))):
        value = match.group(0)
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+", value):
            value = value.replace(",", "")
        found.add(value.rstrip(".,"))
    return found
