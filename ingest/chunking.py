"""Chunking with llama-index's SentenceSplitter, sized in the embedder's own tokens.

Sizing in the embedder's tokens (not tiktoken's) is what guarantees no chunk is silently
truncated by the encoder's `max_seq_length`.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass

from llama_index.core.node_parser import SentenceSplitter

from ingest.loaders.base import LoadedDocument
from rag.errors import InvalidInput

# [CLS] and [SEP] take two of the encoder's positions.
SPECIAL_TOKENS = 2


@dataclass(frozen=True)
class TextChunk:
    text: str
    page: int | None
    start_char: int  # offsets within the page's text
    end_char: int


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
        for page in document.pages:
            cursor = 0
            spans = self.token_spans(page.text) if self.token_spans is not None else None
            if spans is not None:
                self._page.tokens = _PageTokens(page.text, spans)
            try:
                pieces = self.splitter.split_text(page.text)
            finally:
                self._page.tokens = None
            for piece in pieces:
                if not piece.strip():
                    continue
                for text in self._fit(piece):
                    start = page.text.find(text, cursor)
                    if start < 0:  # the splitter normalised whitespace; fall back to the running cursor
                        start = cursor
                    else:
                        cursor = start + 1
                    chunks.append(TextChunk(text, page.number, start, start + len(text)))
        return chunks

    def _fit(self, text: str) -> list[str]:
        """Guard the promise: halve anything the splitter let through above the token budget."""
        if len(self.tokenize(text)) <= self.size_tokens:
            return [text]
        middle = len(text) // 2
        cut = text.rfind(" ", 0, middle)
        cut = cut if cut > 0 else middle
        return self._fit(text[:cut].strip()) + self._fit(text[cut:].strip())
