"""PowerPoint .pptx via python-pptx: one slide is one page, its text boxes and tables in order, then its
speaker notes."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator

from ingest.loaders.archive import check_archive
from ingest.loaders.base import LoadedDocument, Page
from ingest.loaders.locked import check_not_locked
from ingest.loaders.tables import markdown_table
from rag.errors import InvalidInput


def load_pptx(data: bytes) -> LoadedDocument:
    import pptx
    from lxml.etree import LxmlError

    check_not_locked(data, ".pptx")
    check_archive(data, ".pptx")
    pages: list[Page] = []
    try:
        presentation = pptx.Presentation(io.BytesIO(data))
        for number, slide in enumerate(presentation.slides, start=1):
            blocks = list(_shape_texts(slide.shapes))
            notes = slide.notes_slide.notes_text_frame if slide.has_notes_slide else None
            if notes is not None and notes.text.strip():
                blocks.append(f"Speaker notes: {notes.text.strip()}")
            pages.append(Page("\n".join(block for block in blocks if block.strip()), number))
    except (zipfile.BadZipFile, KeyError, ValueError, LxmlError) as exc:
        raise InvalidInput(f"corrupt or unreadable .pptx ({type(exc).__name__}: {exc})") from exc
    return LoadedDocument(pages=pages, title=presentation.core_properties.title or None)


def _shape_texts(shapes: Iterable) -> Iterator[str]:  # type: ignore[type-arg]
    """Text of each shape top to bottom, left to right (as a reader goes), groups opened, tables as rows."""
    for shape in sorted(shapes, key=lambda s: (s.top or 0, s.left or 0)):
        if shape.shape_type is not None and shape.shape_type == 6:  # MSO_SHAPE_TYPE.GROUP
            yield from _shape_texts(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            yield markdown_table([[cell.text for cell in row.cells] for row in shape.table.rows])
        elif shape.has_text_frame:
            yield shape.text_frame.text
