"""Text in the encodings people save it in: a byte-order mark first, then UTF-8, then a detected legacy encoding.

Notepad and Excel still write UTF-16 with a BOM ("Unicode") and cp1252 ("ANSI"); only bytes that no
encoding reads as text are refused. Detection is charset-normalizer's (it measures how much "mess" each
candidate decoding makes); on short Western text it cannot tell cp1252 from cp1250 ("naïve" or "naďve"
both look clean), so cp1252, by far the most common of the two, is taken whenever it reads the bytes as
cleanly as the detector's own pick.
"""

from __future__ import annotations

import codecs
import re

from rag.errors import InvalidInput

# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_PREFERRED_LEGACY = "cp1252"
_MESS_TOLERANCE = 0.05  # how much more "mess" cp1252 may make than the detector's pick and still be taken
_SAMPLE_CHARS = 200_000  # mess is measured on a sample: the ratio of a long text costs time, not accuracy
# A page's own declaration of its encoding, read from its first bytes: <meta charset="x">, or http-equiv's content.
_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([\w.:-]{1,40})", re.IGNORECASE)
_HTML_HEAD_BYTES = 4096


def decode_text(data: bytes, *, html: bool = False) -> str:
    """`data` as text: BOM, UTF-8, the page's declared charset (HTML), then detection; InvalidInput if none fits."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _no_nul(data[len(bom) :].decode(encoding))
            except UnicodeDecodeError as exc:
                raise InvalidInput(
                    f"starts with a {encoding.upper()} byte-order mark but is not valid {encoding.upper()}"
                    f" (invalid bytes at offset {exc.start + len(bom)}); re-save it as UTF-8"
                ) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    else:  # ASCII saved as UTF-16 without a mark is valid UTF-8 too, with a NUL in every other byte
        return _no_nul(_utf16_without_bom(data) or text if "\x00" in text else text)
    if html:
        declared = _declared_charset(data)
        if declared:
            return _no_nul(declared)
    return _no_nul(_detected(data, first_bad))


def _declared_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:_HTML_HEAD_BYTES])
    if not match:
        return None
    try:
        return data.decode(match.group(1).decode("ascii"))
    except (LookupError, UnicodeDecodeError):
        return None  # an unknown or wrong declaration: detect instead


def _detected(data: bytes, first_bad: int) -> str:
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        return utf16
    best = from_bytes(data).best()
    if best is None:
        raise InvalidInput(
            f"not text in UTF-8 or any other encoding we could recognise (invalid byte at offset {first_bad});"
            " re-save it as UTF-8"
        )
    try:
        preferred = data.decode(_PREFERRED_LEGACY)
    except UnicodeDecodeError:
        return str(best)
    if best.encoding == _PREFERRED_LEGACY or mess_ratio(preferred[:_SAMPLE_CHARS], 1.0) <= best.chaos + _MESS_TOLERANCE:
        return preferred
    return str(best)


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 saved without a mark: mostly ASCII text has a NUL in every other byte, on one side."""
    if len(data) < 4 or len(data) % 2:
        return None
    sample = data[:_SAMPLE_CHARS]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) // 2
    for nuls, encoding in ((odd, "utf-16-le"), (even, "utf-16-be")):
        if nuls >= 0.4 * half and min(even, odd) == 0:
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                return None
    return None


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise InvalidInput("looks like a binary file, not text (contains NUL bytes)")
    return text
