"""CSV (and other delimited text): the rows as Markdown rows under the header row, in the file's own encoding
and delimiter (`,` `;` tab `|`, as Excel writes them in each locale)."""

from __future__ import annotations

import csv
import io

from ingest.loaders.base import LoadedDocument, Page
from ingest.loaders.encoding import decode_text
from ingest.loaders.tables import markdown_table
from rag.errors import InvalidInput

_SNIFF_CHARS = 8192
_DELIMITERS = ",;\t|"


def load_csv(data: bytes) -> LoadedDocument:
    text = decode_text(data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:_SNIFF_CHARS], delimiters=_DELIMITERS)
    except csv.Error:
        dialect = csv.excel  # one column, or too little to tell: commas
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), dialect))
    except csv.Error as exc:  # a field over csv's limit (128 KB), a NUL, an unclosed quote in strict dialects
        raise InvalidInput(f"unreadable CSV ({exc})") from exc
    return LoadedDocument(pages=[Page(markdown_table(rows))])
