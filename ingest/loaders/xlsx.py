"""Excel .xlsx via openpyxl (read-only, streamed): each sheet a page, its name above its rows, the rows as
Markdown rows under the header row; formulas as the values Excel last computed."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

from ingest.loaders.archive import check_archive
from ingest.loaders.base import LoadedDocument, Page
from ingest.loaders.locked import check_not_locked
from ingest.loaders.tables import markdown_table
from rag.errors import InvalidInput, TooLarge

# Cells read in all: a sheet of 1,000,000 formatted but empty cells streams in seconds; more is no
# spreadsheet a person asks questions of.
MAX_CELLS = 2_000_000


def load_xlsx(data: bytes) -> LoadedDocument:
    import openpyxl

    check_not_locked(data, ".xlsx")
    check_archive(data, ".xlsx")
    pages: list[Page] = []
    cells = 0
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            for number, sheet in enumerate(workbook.worksheets, start=1):
                rows = []
                for row in sheet.iter_rows(values_only=True):
                    cells += len(row)
                    if cells > MAX_CELLS:
                        raise TooLarge(f".xlsx holds more than {MAX_CELLS:,} cells: too many to read; split it")
                    rows.append([_value(value) for value in row])
                table = markdown_table(rows)
                pages.append(Page(f"{sheet.title}\n{table}" if table else "", number))
        finally:
            workbook.close()
    except TooLarge:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
        raise InvalidInput(f"corrupt or unreadable .xlsx ({type(exc).__name__}: {exc})") from exc
    return LoadedDocument(pages=pages)


def _value(value: object) -> str:
    """A cell as Excel shows it, roughly: 25 not 25.0, a date without a midnight time."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)
