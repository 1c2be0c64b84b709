"""Tables as Markdown rows under their header row, the form every loader writes them in (the chunker repeats
the header in each chunk of a table, `rag/text/tables.py` reads a row with its column names)."""

from __future__ import annotations

from collections.abc import Sequence


def markdown_table(rows: Sequence[Sequence[str | None]]) -> str:
    """`rows` (the first one the header) as `| a | b |` lines with a `| --- |` separator; rows padded to one
    width, empty rows dropped; "" when nothing is left. A table of one row or one column is no grid: its
    cells become lines of text."""
    cleaned = [[_cell(value) for value in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    width = max((len(row) for row in cleaned), default=0)
    while width and not any(len(row) >= width and row[width - 1] for row in cleaned):
        width -= 1  # trailing columns empty everywhere (a spreadsheet's formatted but blank cells)
    if len(cleaned) < 2 or width < 2:
        return "\n".join(cell for row in cleaned for cell in row if cell)
    lines = []
    for index, row in enumerate(cleaned):
        cells = (row + [""] * width)[:width]
        lines.append("| " + " | ".join(cells) + " |")
        if index == 0:
            lines.append("| " + " | ".join(["---"] * width) + " |")
    return "\n".join(lines)


def _cell(value: str | None) -> str:
    """One line of text, a pipe escaped so it does not split the cell."""
    return " ".join(str(value).split()).replace("|", "\\|") if value is not None else ""
