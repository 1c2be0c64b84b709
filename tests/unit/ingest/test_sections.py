"""Every chunk knows the headings it sits under: Markdown, HTML, Word styles, a PDF's outline or its capitals."""

from __future__ import annotations

import io

from ingest.chunking import Chunker, section_of, section_spans
from ingest.loaders import load_bytes
from ingest.loaders.base import LoadedDocument, Page, Section
from tests.conftest import make_pdf

LIMIT = 10_000_000


def _paths(page: Page) -> dict[str, tuple[str, ...]]:
    """Each section's first words → its path."""
    return {page.text[s.start : s.start + 12]: s.path for s in page.sections}


def test_markdown_headings_nest_and_close() -> None:
    source = "# Guide\n\nIntro.\n\n## Install\n\nRun it.\n\n### On Debian\n\napt install.\n\n## Remove\n\nGone."
    page = load_bytes("guide.md", source.encode(), LIMIT).pages[0]
    at = {page.text[s.start :].split("\n")[0]: s.path for s in page.sections}
    assert at["Guide"] == ("Guide",)
    assert at["On Debian"] == ("Guide", "Install", "On Debian")
    assert at["Remove"] == ("Guide", "Remove")  # a level-2 heading closes the level-3 one


def test_a_heading_as_long_as_a_page_is_no_section() -> None:
    """A one-line Markdown file that starts with `#` is one heading as long as the file: every chunk would carry
    it in its metadata (a 3 MB file: 18 GB, and the server was killed for memory)."""
    line = "# One line " + " ".join(f"word{i}" for i in range(20_000))
    page = load_bytes("one-line.md", f"{line}\n\n## Short heading\n\nText.".encode(), LIMIT).pages[0]
    assert [s.path for s in page.sections] == [(), ("Short heading",)]


def test_html_h1_to_h6_become_paths_at_their_place_in_the_text() -> None:
    markup = b"<title>Manual</title><h1>Boot</h1><p>Stages.</p><h2>The <em>boot</em> loader</h2><p>GRUB.</p>"
    page = load_bytes("m.html", markup, LIMIT).pages[0]
    last = page.sections[-1]
    assert last.path == ("Boot", "The boot loader")
    assert page.text[last.start :].startswith("The")


def test_word_heading_styles_become_paths() -> None:
    import docx

    document = docx.Document()
    document.add_heading("Leave", level=1)
    document.add_paragraph("Annual leave is 25 days.")
    document.add_heading("Carrying over", level=2)
    document.add_paragraph("Up to 5 days carry over.")
    buffer = io.BytesIO()
    document.save(buffer)
    page = load_bytes("policy.docx", buffer.getvalue(), LIMIT).pages[0]
    assert [s.path for s in page.sections] == [("Leave",), ("Leave", "Carrying over")]
    assert page.text[page.sections[1].start :].startswith("Carrying over")


def test_a_pdf_outline_gives_each_page_its_sections() -> None:
    from pypdf import PdfReader, PdfWriter

    pages = ["Preface text here.", "1 Setup\nInstall the tool.\nConfiguring it\nEdit the file.", "More configuring."]
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(pages))))
    chapter = writer.add_outline_item("1 Setup", 1)
    writer.add_outline_item("Configuring it", 1, parent=chapter)
    out = io.BytesIO()
    writer.write(out)
    doc = load_bytes("manual.pdf", out.getvalue(), LIMIT)
    assert doc.pages[0].sections == ()
    paths = [s.path for s in doc.pages[1].sections]
    assert paths == [("1 Setup",), ("1 Setup", "Configuring it")]
    assert doc.pages[1].text[doc.pages[1].sections[1].start :].startswith("Configuring it")


def test_a_pdf_without_outline_takes_lines_in_capitals_as_headings() -> None:
    body = "\n".join(["Body text of the manual page."] * 6)
    pages = [f"NAME\nbash - shell\n{body}\nSYNOPSIS\nbash [options]\n{body}", f"INVOCATION\nA login shell.\n{body}"]
    doc = load_bytes("bash.pdf", make_pdf(pages), LIMIT)
    assert [s.path for p in doc.pages for s in p.sections] == [("NAME",), ("SYNOPSIS",), ("INVOCATION",)]


def test_a_chunk_takes_the_path_covering_most_of_it_or_a_subsection_starting_in_it() -> None:
    sections = [Section(0, ("A",)), Section(100, ("A", "A.1")), Section(150, ("B",))]
    spans = section_spans(sections, 300, ())
    assert section_of(0, 90, spans) == ("A",)
    assert section_of(60, 140, spans) == ("A", "A.1")  # A covers more, but A.1 starts inside: its own subject
    assert section_of(110, 300, spans) == ("B",)
    carried = section_spans([Section(50, ("C",))], 200, ("B",))
    assert section_of(0, 40, carried) == ("B",)  # the previous page's section runs on


def test_chunks_carry_their_section_across_pages(embedder) -> None:  # type: ignore[no-untyped-def]
    chunker = Chunker(embedder.tokenize, embedder.max_seq_length, 200, 30, embedder.token_spans)
    first = Page("Intro words.\nOptions\n" + "The flag -x makes it loud. " * 5, 1, (Section(13, ("Options",)),))
    second = Page("The flag -y makes it quiet.", 2)
    chunks = chunker.split(LoadedDocument([first, second]))
    assert chunks[-1].page == 2 and chunks[-1].section == ("Options",)
