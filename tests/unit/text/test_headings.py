"""Contextual chunk headers: the document's name and the headings, said once, short enough to leave room."""

from __future__ import annotations

from rag.text.headings import MAX_CONTEXT_CHARS, chunk_context, document_name, section_label, with_context


def test_the_header_names_the_document_then_its_headings() -> None:
    assert chunk_context("Bash manual", "bash.pdf", ("PARAMETERS", "HISTSIZE")) == "Bash manual > PARAMETERS > HISTSIZE"
    assert chunk_context(None, "bash-manpage.pdf", ("INVOCATION",)) == "bash manpage > INVOCATION"
    assert chunk_context("Leave", "leave.md", ("Leave", "Carry over")) == "Leave > Carry over"  # said once


def test_names_that_say_nothing_are_left_out() -> None:
    assert document_name(None, "42.txt") is None
    assert document_name(None, "travel/index.md") == "travel"
    assert chunk_context(None, "7.txt", ()) == ""
    assert with_context("body", "") == "body"
    assert with_context("body", "Doc > Part") == "Doc > Part\nbody"


def test_a_deep_path_is_cut_from_the_outside_and_stays_short() -> None:
    path = tuple(f"Heading number {i} with several words" for i in range(20))
    context = chunk_context("Manual", "m.pdf", path)
    assert len(context) <= MAX_CONTEXT_CHARS
    assert context.startswith("Manual > ") and context.endswith(path[-1])
    assert section_label(("a > b", "c")) == "a b > c"  # a heading holding the separator cannot split the path
