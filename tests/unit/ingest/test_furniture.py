"""PDF page furniture goes by repetition across pages; the body, and a one-page document, stay whole."""

from __future__ import annotations

from ingest.loaders.furniture import remove_page_furniture

TOPICS = "charging cleaning errors wheels battery filters brushes docking sensors maps schedules".split()


def body(page: int) -> str:
    topic = TOPICS[page % len(TOPICS)]
    return f"This page explains {topic} in detail.\nIt ends with a sentence about {topic}."


def test_a_running_header_with_a_changing_page_number_and_a_footer_go() -> None:
    pages = [f"Robot Manual 2.3 — page {n}\n{body(n)}\nACME Robotics confidential\n- {n} -" for n in range(1, 6)]
    assert remove_page_furniture(pages) == [body(n) for n in range(1, 6)]


def test_printed_page_numbers_offset_from_the_pdf_pages_and_roman_front_matter_go() -> None:
    front = [f"{roman}\n{body(n)}" for n, roman in ((1, "i"), (2, "ii"), (3, "iii"))]
    main = [f"Chapter 1: Charging {n - 3}\n{body(n)}\n{n - 3}" for n in range(4, 8)]
    cleaned = remove_page_furniture(front + main)
    assert cleaned == [body(n) for n in range(1, 8)]


def test_page_n_of_total_and_bare_numbers_at_the_bottom_go() -> None:
    pages = [f"{body(n)}\nPage {n} of 4" for n in range(1, 5)]
    assert remove_page_furniture(pages) == [body(n) for n in range(1, 5)]
    pages = [f"{body(n)}\n{n}" for n in range(1, 5)]
    assert remove_page_furniture(pages) == [body(n) for n in range(1, 5)]


def test_a_chapter_heading_that_numbers_chapters_not_pages_stays() -> None:
    starts = {0: 1, 3: 2, 7: 3, 12: 4}  # chapter 1 on page 1, chapter 2 on page 4, ...
    pages = [f"Chapter {starts[i]}\n{body(i)}" if i in starts else body(i) for i in range(14)]
    assert remove_page_furniture(pages) == pages


def test_a_repeated_line_inside_the_page_stays() -> None:
    pages = [f"{body(n)}\nSee also\nThe dock manual.\nMore about {TOPICS[n]}." for n in range(1, 5)]
    assert remove_page_furniture(pages) == pages


def test_a_stray_number_at_a_page_edge_stays_while_the_page_numbers_go() -> None:
    pages = [f"{body(n)}\n{n}" for n in range(1, 5)] + ["Table total:\n4096"]
    assert remove_page_furniture(pages) == [body(n) for n in range(1, 5)] + ["Table total:\n4096"]


def test_contents_entries_with_dot_leaders_go() -> None:
    contents = "Contents\n1 Charging . . . . . . 3\n1.1 The dock........ 4\nIntro.......3\nIndex . . . . . . 7, 9"
    pages = [contents, body(2), body(3)]
    assert remove_page_furniture(pages) == ["Contents", body(2), body(3)]


def test_dotted_lines_in_a_formula_stay() -> None:
    pages = [f"x1 + x2 + . . . . . . + xn\n{body(1)}", body(2), ". . . . . . .\n" + body(3)]
    assert remove_page_furniture(pages) == pages


def test_a_one_page_document_keeps_every_line() -> None:
    page = "Robot Manual — page 1\nContents\nIntro.......3\nSetup.......4\nUse.......5\n1"
    assert remove_page_furniture([page]) == [page]


def test_a_line_whose_numbers_all_move_with_the_page_is_text() -> None:
    pages = [f"Step {n}. Turn dial {n} to position {n}.\n{body(n)}" for n in range(1, 5)]
    assert remove_page_furniture(pages) == pages


def test_a_document_that_would_be_left_empty_keeps_its_lines() -> None:
    pages = [f"Northwind slide deck - {n}" for n in range(1, 5)]
    assert remove_page_furniture(pages) == pages
