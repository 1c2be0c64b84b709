"""Limits for zip-based formats (.docx): a 100 KB file can unpack to gigabytes of XML, or to millions of
tiny elements that the XML parser builds in memory one object each. Both are measured before any parser
sees the file: the sizes from the zip's directory (Python's zipfile never unpacks more than a member
declares, it fails the CRC check instead), the element count by streaming the XML parts through a
bounded buffer.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib

from rag.errors import InvalidInput, TooLarge

MAX_MEMBERS = 10_000
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
# python-docx spends ~45 us per paragraph, run and table cell (an XPath query each, on this machine): 200,000
# of them parse in about 10 s; a 1,000-page document holds about 100,000. Elements in all cost memory
# (lxml keeps the whole tree): 2,000,000 stay well under 1 GB.
MAX_TEXT_ELEMENTS = 200_000
MAX_XML_TAGS = 2_000_000
_TEXT_ELEMENT = re.compile(rb"<(?:\w+:)?(?:p|r|tc)[\s/>]")  # <w:p>, <w:r ...>, <w:tc>, whatever the prefix
_READ_PIECE = 1024 * 1024
# What zipfile raises on damaged, encrypted or exotic members.
_UNREADABLE = (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, RuntimeError, NotImplementedError)


def check_archive(data: bytes, kind: str) -> None:
    """Refuse a zip whose content is too big to parse in bounded time and memory, with a reason to act on."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise InvalidInput(f"corrupt or unreadable {kind} ({type(exc).__name__}: {exc})") from exc
    if len(members) > MAX_MEMBERS:
        raise TooLarge(f"{kind} holds {len(members):,} parts, over the limit of {MAX_MEMBERS:,}")
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_UNPACKED_BYTES:
        raise TooLarge(
            f"{kind} unpacks to {unpacked:,} bytes, over the limit of {MAX_UNPACKED_BYTES:,} bytes"
            f" (compressed {len(data):,} bytes: a decompression bomb?)"
        )
    tags = elements = 0
    for member in members:
        if not member.filename.lower().endswith((".xml", ".rels")):
            continue  # images and other media are not parsed
        try:
            with archive.open(member) as part:
                while piece := part.read(_READ_PIECE):
                    tags += piece.count(b"<")
                    elements += len(_TEXT_ELEMENT.findall(piece))
                    if elements > MAX_TEXT_ELEMENTS:
                        raise TooLarge(
                            f"{kind} holds more than {MAX_TEXT_ELEMENTS:,} paragraphs, runs and table cells"
                            f" (in {member.filename}): too many to parse in bounded time; split the document"
                        )
                    if tags > MAX_XML_TAGS:
                        raise TooLarge(
                            f"{kind} holds more than {MAX_XML_TAGS:,} XML elements (in {member.filename}):"
                            " too many to parse in bounded memory; split the document"
                        )
        except _UNREADABLE as exc:
            raise InvalidInput(f"corrupt or unreadable {kind} ({type(exc).__name__}: {exc})") from exc
