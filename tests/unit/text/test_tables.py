"""Markdown tables in chunk text: each row a sentence of its own, read and quoted with its column names."""

from __future__ import annotations

from rag.answering.sentences import is_prose, source_sentences
from rag.text.sentences import readings, split_sentences
from rag.text.tables import find_tables, read_row
from rag.types import SearchHit

CHUNK = (
    "Price list 2024. Prices include tax.\n| Service | Price | Notes |\n| --- | --- | --- |\n"
    "| Haircut | 25 EUR | Wash incl. Dry. Extra |\n| Colour \\| tint | 60 EUR | |\nAsk at the desk."
)


def test_a_table_row_is_one_sentence_whatever_its_cells_hold() -> None:
    sentences = split_sentences(CHUNK)
    assert [s.text for s in sentences] == [
        "Price list 2024.", "Prices include tax.", "| Service | Price | Notes |", "| --- | --- | --- |",
        "| Haircut | 25 EUR | Wash incl. Dry. Extra |", "| Colour \\| tint | 60 EUR | |", "Ask at the desk.",
    ]  # fmt: skip
    assert readings(CHUNK, sentences)[2:6] == [
        "", "", "Service: Haircut; Price: 25 EUR; Notes: Wash incl. Dry. Extra", "Service: Colour | tint; Price: 60 EUR"
    ]  # fmt: skip


def test_rows_are_quoted_with_their_column_names_and_count_as_prose() -> None:
    hit = SearchHit("c1", "prices.docx", "prices.docx", None, CHUNK, 1.0)
    quotes = [s.quote for s in source_sentences([hit])]
    assert "Service: Haircut; Price: 25 EUR; Notes: Wash incl. Dry. Extra" in quotes
    assert not any("|" in q and "tint" not in q for q in quotes)  # header and separator rows are no quotes
    assert is_prose("Service: Colour | tint; Price: 60 EUR") and not is_prose("Opening hours")


def test_tables_need_a_header_and_a_separator_row() -> None:
    assert find_tables("| a | b |\n| c | d |") == []
    (table,) = find_tables("x\n| Day | Hours |\n|---|:---:|\n| Mon | 9-17 |")
    assert table.columns == ("Day", "Hours")
    assert read_row(table.columns, "| Mon | 9-17 | extra |") == "Day: Mon; Hours: 9-17; extra"
