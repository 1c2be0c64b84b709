"""Chunking with llama-index's SentenceSplitter, sized in the embedder's own tokens.

Sizing in the embedder's tokens (not tiktoken's) is what guarantees no chunk is silently
truncated by the encoder's `max_seq_length`.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from llama_index.core.node_parser import SentenceSplitter

from ingest.loaders.base import LoadedDocument, Section
from rag.errors import InvalidInput
from rag.text.tables import PipeTable, find_tables, row_lines

# [CLS] and [SEP] take two of the encoder's positions.
SPECIAL_TOKENS = 2
# Most characters a chunk may hold per token of budget. The encoder turns any word over 100 characters into
# one unknown token, so a token budget alone lets a 10 MB word through as one "1-token" chunk. Normal text
# runs 4-6 characters a token (the longest chunk of the sample documents and SciFact: 1,057 for 200 tokens).
MAX_CHARS_PER_TOKEN = 16
# Bounded work whatever the input looks like (benchmarks/pathological.py): SentenceSplitter costs about
# 10 us and 200 bytes per character, so it sees at most PAGE_WINDOW_CHARS at once, cut at paragraph breaks
# (pages up to that size chunk exactly as they always did). A line of LONG_LINE_CHARS or more is no text a
# person wrote as one paragraph (minified data, a line without breaks): it is cut at token boundaries
# instead, RUN_WINDOW_CHARS at a time.
PAGE_WINDOW_CHARS = 1_000_000
LONG_LINE_CHARS = 100_000
RUN_WINDOW_CHARS = 100_000
MAX_CAPTION_CHARS = 150  # the line above a table repeated with its header: a title, not a paragraph
_LONG_LINE = re.compile(rf"^[^\n]{{{LONG_LINE_CHARS},}}", re.MULTILINE)  # anchored: linear in the text


@dataclass(frozen=True)
class TextChunk:
    text: str
    page: int | None
    start_char: int  # offsets within the page's text as the loader gave it (cleaned), not the original file
    end_char: int
    section: tuple[str, ...] = ()  # the heading path the chunk sits under, outermost first


class _PageTokens:
    """Token counts of any piece of a page, from one tokenization of the whole page.

    Why by hand: SentenceSplitter asks for the token length of every sentence and sub-piece it
    considers, which tokenized each page's text more than three times over (half the CPU time of
    chunking, time the encoder lacks while ingesting). The pieces are substrings of the page, so their
    lengths can be read off the page's token offsets. A count is the tokens overlapping the piece, and
    may be a token off where a piece cuts through a word; `Chunker._fit` re-checks every final chunk
    with the real tokenizer.
    """

    def __init__(self, text: str, spans: list[tuple[int, int]]) -> None:
        self.text = text
        self.starts = [start for start, _ in spans]
        self.ends = [end for _, end in spans]
        self.hint = 0  # the splitter asks about pieces roughly in page order

    def count(self, piece: str) -> int | None:
        start = self.text.find(piece, self.hint)
        if start < 0:
            start = self.text.find(piece)
        if start < 0:
            return None
        self.hint = start
        return bisect_left(self.starts, start + len(piece)) - bisect_right(self.ends, start)


class Chunker:
    def __init__(
        self,
        tokenize: Callable[[str], list[int]],
        max_seq_length: int,
        size_tokens: int,
        overlap_tokens: int,
        token_spans: Callable[[str], list[tuple[int, int]] | None] | None = None,
    ) -> None:
        if size_tokens + SPECIAL_TOKENS > max_seq_length:
            raise InvalidInput(
                f"chunk size {size_tokens} tokens does not fit the embedder's max_seq_length {max_seq_length}"
                f" (at most {max_seq_length - SPECIAL_TOKENS})"
            )
        self.tokenize = tokenize
        self.token_spans = token_spans
        self.size_tokens = size_tokens
        self.overlap_tokens = overlap_tokens
        self.max_chars = size_tokens * MAX_CHARS_PER_TOKEN
        self._page = threading.local()  # the page being split, per thread: one Chunker serves every job
        self.splitter = SentenceSplitter(
            chunk_size=size_tokens, chunk_overlap=overlap_tokens, tokenizer=self._piece_tokens
        )

    def _piece_tokens(self, piece: str) -> list[int] | range:
        """What the splitter measures with: only its length is used."""
        page: _PageTokens | None = getattr(self._page, "tokens", None)
        count = page.count(piece) if page is not None else None
        return range(count) if count is not None else self.tokenize(piece)

    def split(self, document: LoadedDocument) -> list[TextChunk]:
        chunks: list[TextChunk] = []
        carried: tuple[str, ...] = ()  # the section the previous page ended in
        for page in document.pages:
            position = 0
            found: list[TextChunk] = []
            for table in find_tables(page.text):
                head = _caption_start(page.text, table, position)
                found += self._split_text(page.text, position, head, page.number)
                found += self._split_table(page.text, table, head, page.number)
                position = table.end
            found += self._split_text(page.text, position, len(page.text), page.number)
            spans = section_spans(page.sections, len(page.text), carried)
            chunks += [replace(c, section=section_of(c.start_char, c.end_char, spans)) for c in found]
            carried = spans[-1][2]
        return chunks

    def _split_text(self, text: str, first: int, last: int, page: int | None) -> list[TextChunk]:
        chunks: list[TextChunk] = []
        for start, end, long_line in _segments(text, first, last):
            segment = text if (start, end) == (0, len(text)) else text[start:end]
            pieces = self._split_long_line(segment) if long_line else self._split_sentences(segment)
            chunks += [TextChunk(piece, page, start + at, start + at + len(piece)) for piece, at in pieces]
        return chunks

    def _split_table(self, text: str, table: PipeTable, head: int, page: int | None) -> list[TextChunk]:
        """A table's rows in chunks of whole rows, each chunk opening with the table's caption line (when it
        has one) and header row: a row is found and read with its column names whichever chunk holds it. The
        first chunk is the text as it stands; the others hold the header again, their offsets those of their rows."""
        header = text[head : table.body_start].rstrip("\n")
        budget = self.size_tokens - len(self.tokenize(header + "\n"))
        rows = row_lines(text, table)
        if not rows or budget < self.size_tokens // 3:  # a header too big to repeat: the table is plain text
            return self._split_text(text, head, table.end, page)
        chunks: list[TextChunk] = []
        group: list[tuple[int, int]] = []
        used = 0
        for row in rows:
            tokens = len(self.tokenize(text[row[0] : row[1]]))
            if group and used + tokens > budget:
                chunks += self._table_chunks(text, header, head, group, page, first=not chunks)
                group, used = [], 0
            group.append(row)
            used += tokens
        return chunks + self._table_chunks(text, header, head, group, page, first=not chunks)

    def _table_chunks(
        self, text: str, header: str, head: int, rows: list[tuple[int, int]], page: int | None, first: bool
    ) -> list[TextChunk]:
        start, end = (head if first else rows[0][0]), rows[-1][1]
        body = text[start:end]
        piece = body if first else f"{header}\n{body}"
        if len(piece) <= self.max_chars and len(self.tokenize(piece)) <= self.size_tokens:
            return [TextChunk(piece, page, start, end)]
        return self._split_text(text, start, end, page)  # one row over the budget: cut like any text

    def _split_sentences(self, text: str) -> list[tuple[str, int]]:
        """SentenceSplitter's chunks, each with its offset in `text`."""
        spans = self.token_spans(text) if self.token_spans is not None else None
        if spans is not None:
            self._page.tokens = _PageTokens(text, spans)
        try:
            pieces = self.splitter.split_text(text)
        finally:
            self._page.tokens = None
        located: list[tuple[str, int]] = []
        cursor = 0
        for piece in pieces:
            if not piece.strip():
                continue
            for part in self._fit(piece):
                start = text.find(part, cursor)
                if start < 0:  # the splitter normalised whitespace; fall back to the running cursor
                    start = cursor
                else:
                    cursor = start + 1
                located.append((part, start))
        return located

    def _split_long_line(self, text: str) -> list[tuple[str, int]]:
        """A run without line breaks, cut every `size_tokens` tokens with the usual overlap: linear time.

        Cuts go where whitespace separates two tokens when there is such a place: the encoder splits words
        at whitespace before anything else, so a piece cut there holds exactly the tokens counted here and
        needs no second tokenization (a second pass doubled the time of a 10 MB line).
        """
        spans = self.token_spans(text) if self.token_spans is not None else None
        if spans is None:  # no offsets from this tokenizer: cut by characters (~4 a token) and let `_fit` count
            size, stride = self.size_tokens * 4, (self.size_tokens - self.overlap_tokens) * 4
            starts = range(0, max(len(text) - self.overlap_tokens * 4, 1), stride)
            return self._locate(text, [(i, min(i + size, len(text)), False) for i in starts])
        count = len(spans)

        def at_space(k: int) -> bool:
            return k in (0, count) or spans[k][0] > spans[k - 1][1]

        cuts: list[tuple[int, int, bool]] = []
        first = 0
        while first < count:
            last = min(first + self.size_tokens, count)
            back = last
            while back > first + 1 and not at_space(back):
                back -= 1
            last = back if at_space(back) else last
            cuts.append((spans[first][0], spans[last - 1][1], at_space(first) and at_space(last)))
            if last >= count:
                break
            following = last - self.overlap_tokens
            while following > first + 1 and not at_space(following):
                following -= 1
            first = following if following > first else last
        return self._locate(text, cuts)

    def _locate(self, text: str, cuts: list[tuple[int, int, bool]]) -> list[tuple[str, int]]:
        """The pieces of `text` between the cuts, with their offsets; `_fit` checks those not counted exactly."""
        located: list[tuple[str, int]] = []
        for start, end, exact in cuts:
            piece = text[start:end]
            if exact and len(piece) <= self.max_chars:
                located.append((piece, start))
                continue
            cursor = start
            for part in self._fit(piece):
                at = text.find(part, cursor, end)
                at = at if at >= 0 else cursor
                cursor = at + len(part)
                located.append((part, at))
        return located

    def _fit(self, text: str) -> list[str]:
        """Guard the promise: halve anything the splitter let through above the token or character budget."""
        if not text:
            return []
        if len(text) <= self.max_chars and len(self.tokenize(text)) <= self.size_tokens:
            return [text]
        middle = len(text) // 2
        cut = text.rfind(" ", middle // 2, middle)  # only a space past the first quarter: at most log(n) deep
        cut = cut if cut > 0 else middle
        return self._fit(text[:cut].strip()) + self._fit(text[cut:].strip())


def _caption_start(text: str, table: PipeTable, after: int) -> int:
    """Where the table's caption starts: the short line just above it ("Opening hours", "Price list 2024"),
    repeated with its header; the table's own start when there is none."""
    above = text.rfind("\n", after, max(table.start - 1, after))
    line_start = above + 1 if above >= 0 else after
    caption = text[line_start : table.start].strip()
    if not caption or len(caption) > MAX_CAPTION_CHARS or caption.startswith("|") or line_start < after:
        return table.start
    return line_start


def _segments(text: str, first: int = 0, last: int | None = None) -> Iterator[tuple[int, int, bool]]:
    """(start, end, is_long_line) pieces of text[first:last], each small enough to split in bounded time and memory."""
    last = len(text) if last is None else last
    position = first
    for line in _LONG_LINE.finditer(text, first, last):
        yield from _windows(text, position, line.start(), PAGE_WINDOW_CHARS, False)
        yield from _windows(text, line.start(), line.end(), RUN_WINDOW_CHARS, True)
        position = line.end()
    yield from _windows(text, position, last, PAGE_WINDOW_CHARS, False)


def _windows(text: str, start: int, end: int, size: int, long_line: bool) -> Iterator[tuple[int, int, bool]]:
    """Cut [start, end) into windows of at most `size`, at a paragraph break, a line break or a space in
    each window's second half when there is one."""
    while end - start > size:
        half = start + size // 2
        for mark in ("\n\n", "\n", " "):  # the strongest break wins, not the latest
            cut = text.rfind(mark, half, start + size)
            if cut > start:
                break
        cut = cut + 1 if cut > start else start + size
        yield start, cut, long_line
        start = cut
    if end > start:
        yield start, end, long_line


SectionSpan = tuple[int, int, tuple[str, ...]]  # [start, end) of a page's text under one heading path


def section_spans(sections: Sequence[Section], length: int, carried: tuple[str, ...]) -> list[SectionSpan]:
    """The page cut into the stretches each heading path covers; text before the first heading continues the
    section the previous page ended in."""
    spans: list[SectionSpan] = []
    starts = [(0, carried)] + [(s.start, s.path) for s in sections if 0 <= s.start <= length]
    for (start, path), (end, _) in zip(starts, starts[1:] + [(length, ())], strict=True):
        if end > start or (not spans and start == end == length):
            spans.append((start, max(end, start), path))
    return spans or [(0, length, carried)]


def section_of(start: int, end: int, spans: Sequence[SectionSpan]) -> tuple[str, ...]:
    """The heading path covering most of [start, end); a sub-section of it that starts inside the chunk wins
    (the chunk holds its heading, and its text is what the chunk goes on to say)."""
    if not spans:
        return ()
    overlap = [(min(end, e) - max(start, s), path) for s, e, path in spans]
    best = max(overlap, key=lambda pair: pair[0])[1]
    deeper = [path for s, _, path in spans if start < s < end and len(path) > len(best) and path[: len(best)] == best]
    return deeper[0] if deeper else best
