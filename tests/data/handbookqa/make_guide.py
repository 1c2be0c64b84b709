"""Writes docs/security/guide.pdf: three pages, each with a running header and a page number (fpdf2)."""

from pathlib import Path

from fpdf import FPDF

PAGES = [
    "Visitors must sign in at reception and wear a visitor badge at all times. An employee accompanies "
    "every visitor while they are in the building.",
    "If you find a door propped open after 8 pm, close it and call the night guard on 555-0199. "
    "Do not prop doors open yourself, even for a delivery.",
    "Lock your screen whenever you leave your desk. Clear your desk of papers marked confidential at the "
    "end of each day.",
]


class Guide(FPDF):
    def header(self) -> None:
        self.set_font("Helvetica", size=9)
        self.cell(0, 8, "Acme Security Guide - Version 2.1", align="C")
        self.ln(14)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=9)
        self.cell(0, 10, str(self.page_no()), align="C")


pdf = Guide()
pdf.set_title("Acme Security Guide")
for text in PAGES:
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 7, text)
pdf.output(str(Path(__file__).parent / "docs" / "security" / "guide.pdf"))
