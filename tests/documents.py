"""Real files of every supported format, made here with the libraries that write them (python-docx, openpyxl,
python-pptx, fpdf2, the standard library's email and zipfile), for the loader, upload and CLI tests."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from email.message import EmailMessage

Rows = Sequence[Sequence[str]]


def make_docx(paragraphs: Sequence[str], table: Rows = ()) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_xlsx(sheets: dict[str, Rows]) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append([float(v) if v.replace(".", "", 1).isdigit() else v for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def make_pptx(slides: Sequence[tuple[str, str, str]]) -> bytes:
    """Slides of (title, body, speaker notes)."""
    import pptx

    presentation = pptx.Presentation()
    for title, body, notes in slides:
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def make_eml(subject: str, body: str, attachments: Sequence[tuple[str, bytes]] = ()) -> bytes:
    message = EmailMessage()
    message["From"] = "Dana Facilities <dana@example.org>"
    message["To"] = "all-staff@example.org"
    message["Date"] = "Tue, 04 Mar 2025 09:30:00 +0100"
    message["Subject"] = subject
    message.set_content(body)
    for name, data in attachments:
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return message.as_bytes()


def make_epub(title: str, chapters: Sequence[tuple[str, str]]) -> bytes:
    """An EPUB 3 of (chapter title, paragraph) chapters; the spine lists them in reverse of the manifest,
    so reading order must come from the spine."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        book.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
        items = "".join(
            f'<item id="c{i}" href="text/ch{i}.xhtml" media-type="application/xhtml+xml"/>'
            for i in reversed(range(len(chapters)))
        )
        spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
        book.writestr(
            "OEBPS/content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            f'<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{title}</dc:title></metadata>'
            f'<manifest>{items}<item id="css" href="style.css" media-type="text/css"/></manifest>'
            f"<spine>{spine}</spine></package>",
        )
        book.writestr("OEBPS/style.css", "p { margin: 0 }")
        for i, (heading, text) in enumerate(chapters):
            book.writestr(
                f"OEBPS/text/ch{i}.xhtml",
                f'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>{heading}</title>'
                f"</head><body><h1>{heading}</h1><p>{text}</p></body></html>",
            )
    return out.getvalue()


def make_table_pdf(title: str, table: Rows) -> bytes:
    """A PDF page with a title and a ruled table (fpdf2's table: the lines pdfplumber finds cells by)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    with pdf.table() as grid:
        for row in table:
            cells = grid.row()
            for value in row:
                cells.cell(value)
    return bytes(pdf.output())


def encrypt_office(data: bytes, password: str = "hunter2") -> bytes:
    """The file as Office saves it with a password: an OLE compound file holding the encrypted package."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt(password, out)
    return out.getvalue()


def render_text_image(lines: Sequence[str], dpi: int = 150, format: str = "PNG") -> bytes:
    """A page of text as a picture of it (what a scanner makes): black on white, 14 pt, `dpi` dots per inch."""
    image = _text_page(lines, dpi)
    out = io.BytesIO()
    image.save(out, format=format, dpi=(dpi, dpi))
    return out.getvalue()


def make_image_pdf(pages: Sequence[Sequence[str] | str], dpi: int = 150) -> bytes:
    """A PDF in which each page of lines is a scanned image with no text layer, and each plain string a page of
    ordinary text: a scan, or a mixed PDF."""
    from fpdf import FPDF

    pdf = FPDF()  # A4 in millimetres
    pdf.set_font("Helvetica", size=11)
    for page in pages:
        pdf.add_page()
        if isinstance(page, str):
            pdf.multi_cell(0, 6, page)
            continue
        picture = io.BytesIO()
        _text_page(page, dpi).save(picture, format="PNG")
        pdf.image(picture, x=0, y=0, w=210, h=297)
    return bytes(pdf.output())


def make_multipage_tiff(pages: Sequence[Sequence[str]], dpi: int = 150) -> bytes:
    images = [_text_page(lines, dpi) for lines in pages]
    out = io.BytesIO()
    images[0].save(out, format="TIFF", save_all=True, append_images=images[1:], dpi=(dpi, dpi))
    return out.getvalue()


def _text_page(lines: Sequence[str], dpi: int):  # type: ignore[no-untyped-def]
    """An A4 page at `dpi`: `lines` of 14 pt text from the top left margin, in Pillow's own font (no system font)."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = int(8.27 * dpi), int(11.69 * dpi)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=int(14 * dpi / 72))
    y = dpi  # one-inch margin
    for line in lines:
        draw.text((dpi, y), line, fill=0, font=font)
        y += int(22 * dpi / 72)
    return image
