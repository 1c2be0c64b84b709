"""Markdown pipe tables in extracted text: where they are, and a row read with its column names.

Loaders write the tables of Word, HTML, PDF, spreadsheets and CSV as Markdown rows under their header row;
the chunker repeats that header in every chunk holding part of a table. Sentences, quotes and the answer
checker read a row as "Header: cell; Header: cell" (the Markdown loader's own form), so a quoted row says
what each value is and carries no pipes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_ROW_CHARS = 20_000  # a longer line is no table row a person reads (and keeps the pattern's work bounded)
_ROW = rf"\|[^\n]{{0,{MAX_ROW_CHARS}}}\|[ \t]*"
_SEPARATOR = r"\|(?:[ \t]*:?-{3,}:?[ \t]*\|)+[ \t]*"
_TABLE = re.compile(rf"^{_ROW}\n{_SEPARATOR}(?:\n(?:{_ROW}(?:\n|\Z))*|\Z)", re.MULTILINE)
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


@dataclass(frozen=True)
class PipeTable:
    start: int  # the header row's first character
    body_start: int  # the first body row's (== end for a table of a header alone)
    end: int  # just past the last row (its newline not included)
    columns: tuple[str, ...]


def find_tables(text: str) -> list[PipeTable]:
    """The pipe tables of `text` (a header row, a `| --- |` separator, the rows up to the first other line)."""
    if "|" not in text:
        return []
    tables = []
    for match in _TABLE.finditer(text):
        end = match.end()
        while end > match.start() and text[end - 1] in "\n \t":
            end -= 1
        header_end = text.index("\n", match.start())
        separator_end = text.find("\n", header_end + 1)
        body_start = min(separator_end + 1, end) if separator_end >= 0 else end
        tables.append(PipeTable(match.start(), body_start, end, tuple(split_cells(text[match.start() : header_end]))))
    return tables


def split_cells(row: str) -> list[str]:
    """The cells of one `| a | b |` row, trimmed, `\\|` read as a pipe."""
    inner = row.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(inner)]


def read_row(columns: Sequence[str], row: str) -> str:
    """'Header: cell; Header: cell' for the row's filled cells (a cell that repeats its header stands alone)."""
    pairs = [(columns[i] if i < len(columns) else "", cell) for i, cell in enumerate(split_cells(row))]
    return "; ".join(f"{name}: {cell}" if name and name != cell else cell for name, cell in pairs if cell)


def row_lines(text: str, table: PipeTable) -> list[tuple[int, int]]:
    """(start, end) of each body row of `table` in `text`."""
    spans = []
    position = table.body_start
    while position < table.end:
        end = text.find("\n", position, table.end)
        end = table.end if end < 0 else end
        if text[position:end].strip():
            spans.append((position, end))
        position = end + 1
    return spans
