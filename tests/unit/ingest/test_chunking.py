"""Chunks are sized in the embedder's own tokens and never exceed what it can encode."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import Chunker
from ingest.loaders.base import LoadedDocument, Page
from rag.errors import InvalidInput

SAMPLE_DOCS = Path(__file__).resolve().parents[3] / "sample_docs"
LONG_PAGE = " ".join(f"Sentence number {i} talks about robots, vacuum cleaners and batteries." for i in range(300))


@pytest.fixture(params=["page-offsets", "tokenizer-per-piece"])
def chunker(request, embedder) -> Chunker:  # type: ignore[no-untyped-def]
    spans = embedder.token_spans if request.param == "page-offsets" else None
    return Chunker(embedder.tokenize, embedder.max_seq_length, 200, 30, spans)


def test_counting_from_page_offsets_gives_the_same_chunks(embedder) -> None:  # type: ignore[no-untyped-def]
    """The pipeline's fast path measures pieces from one tokenization of the page: same chunks."""
    pages = [Page(LONG_PAGE, 1), Page((SAMPLE_DOCS / "release_notes.md").read_text(encoding="utf-8"), 2)]
    per_piece = Chunker(embedder.tokenize, embedder.max_seq_length, 120, 20)
    from_offsets = Chunker(embedder.tokenize, embedder.max_seq_length, 120, 20, embedder.token_spans)
    expected = per_piece.split(LoadedDocument(pages))
    assert len(expected) > 20
    assert from_offsets.split(LoadedDocument(pages)) == expected


def test_no_chunk_exceeds_the_token_budget(chunker: Chunker, embedder) -> None:  # type: ignore[no-untyped-def]
    chunks = chunker.split(LoadedDocument([Page(LONG_PAGE, 1), Page("short second page", 2)]))
    assert len(chunks) > 10
    assert max(embedder.count_tokens(c.text) for c in chunks) <= 200
    assert chunks[-1].page == 2


def test_offsets_point_into_the_page_text(chunker: Chunker) -> None:
    chunks = chunker.split(LoadedDocument([Page(LONG_PAGE, 1)]))
    for chunk in chunks:
        assert LONG_PAGE[chunk.start_char : chunk.end_char] == chunk.text


def test_neighbouring_chunks_overlap(chunker: Chunker) -> None:
    first, second = chunker.split(LoadedDocument([Page(LONG_PAGE, 1)]))[:2]
    assert second.start_char < first.end_char


def test_one_giant_word_is_still_split_within_budget(chunker: Chunker, embedder) -> None:  # type: ignore[no-untyped-def]
    chunks = chunker.split(LoadedDocument([Page("x" * 5000)]))
    assert chunks and all(embedder.count_tokens(c.text) <= 200 for c in chunks)


def test_chunk_size_above_the_encoder_limit_is_refused(embedder) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="max_seq_length"):
        Chunker(embedder.tokenize, embedder.max_seq_length, 400, 30)


def test_counting_tokens_while_encoding_in_another_thread_is_safe(embedder) -> None:  # type: ignore[no-untyped-def]
    """The pipeline chunks (counts tokens) in one thread while it encodes in another."""
    import threading

    texts = [("word " * n).strip() for n in (3, 40, 7, 120, 15, 60)]
    stop = threading.Event()

    def count_forever() -> None:
        while not stop.is_set():
            for text in texts:
                embedder.tokenize(text)

    counter = threading.Thread(target=count_forever)
    counter.start()
    try:
        for _ in range(12):
            assert embedder.embed_documents(texts).shape == (len(texts), embedder.dimension)
    finally:
        stop.set()
        counter.join()


def test_a_tokenizer_without_offsets_still_chunks_the_same(embedder) -> None:  # type: ignore[no-untyped-def]
    """Slow (pure Python) tokenizers give no offsets: every piece is then tokenized on its own."""
    import copy

    slow = copy.copy(embedder)
    slow._rust = None  # what a model with only a slow tokenizer looks like to the embedder
    assert slow.token_spans(LONG_PAGE) is None
    assert slow.tokenize(LONG_PAGE[:300]) == embedder.tokenize(LONG_PAGE[:300])
    document = LoadedDocument([Page(LONG_PAGE, 1)])
    fast_chunks = Chunker(embedder.tokenize, embedder.max_seq_length, 120, 20, embedder.token_spans).split(document)
    assert Chunker(slow.tokenize, slow.max_seq_length, 120, 20, slow.token_spans).split(document) == fast_chunks


def test_a_line_without_breaks_is_cut_within_budget_with_exact_offsets(chunker: Chunker, embedder) -> None:  # type: ignore[no-untyped-def]
    """300,000 characters on one line (minified data, a text without line breaks): cut at token boundaries."""
    line = " ".join(f"field{i % 89}=value{i % 7};" for i in range(20_000))
    assert len(line) > 300_000 and "\n" not in line
    chunks = chunker.split(LoadedDocument([Page("A normal first paragraph.\n" + line + "\nA last line.", 3)]))
    assert len(chunks) > 100
    assert max(embedder.count_tokens(c.text) for c in chunks) <= 200
    page = "A normal first paragraph.\n" + line + "\nA last line."
    assert all(page[c.start_char : c.end_char] == c.text for c in chunks)
    assert chunks[0].text.startswith("A normal first paragraph.") and chunks[-1].text.endswith("A last line.")
    overlapping = sum(second.start_char < first.end_char for first, second in zip(chunks, chunks[1:], strict=False))
    if chunker.token_spans is not None:  # the pipeline's path; without offsets the cuts are by characters
        assert overlapping >= len(chunks) - 6  # neighbours overlap, except across the 100,000-character windows


def test_a_giant_word_never_becomes_one_giant_chunk(chunker: Chunker) -> None:
    """The encoder reads a word over 100 characters as one unknown token: the token count alone would let
    a 10 MB word through as a single chunk."""
    chunks = chunker.split(LoadedDocument([Page("x" * 300_000)]))
    assert len(chunks) >= 300_000 // (200 * 16)
    assert max(len(c.text) for c in chunks) <= 200 * 16
    assert chunks[0].start_char == 0 and chunks[-1].end_char == 300_000  # nothing lost between the pieces
    assert all(second.start_char <= first.end_char for first, second in zip(chunks, chunks[1:], strict=False))


def test_every_chunk_of_a_table_repeats_its_caption_and_header_row(chunker: Chunker, embedder) -> None:  # type: ignore[no-untyped-def]
    rows = "\n".join(f"| E{i:02d} | Fault {i} of the brush motor | Clean part {i}. Restart. |" for i in range(60))
    header = "| Code | Meaning | Fix |\n| --- | --- | --- |"
    page = f"Robots beep when a part fails.\nError codes\n{header}\n{rows}\nAfter it."
    chunks = chunker.split(LoadedDocument([Page(page, 3)]))
    table = [c for c in chunks if "| E" in c.text]
    assert len(table) > 3 and all(c.page == 3 for c in chunks)
    assert all(c.text.startswith("Error codes\n| Code | Meaning | Fix |\n| --- | --- | --- |\n") for c in table)
    assert max(embedder.count_tokens(c.text) for c in chunks) <= 200
    assert page[table[0].start_char : table[0].end_char] == table[0].text  # the first chunk is the text as it is
    for chunk in table[1:]:  # the others: their rows' offsets, the header before them
        assert chunk.text.endswith(page[chunk.start_char : chunk.end_char])
        assert page[chunk.start_char : chunk.end_char].startswith("| E")
    found = [line for c in table for line in c.text.splitlines() if line.startswith("| E")]
    assert found == rows.splitlines()  # every row once, none cut
    assert chunks[0].text == "Robots beep when a part fails." and chunks[-1].text == "After it."
