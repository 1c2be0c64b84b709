"""Chunking with llama-index's SentenceSplitter, sized in the embedder's own tokens.

Sizing in the embedder's tokens (not tiktoken's) is what guarantees no chunk is silently
truncated by the encoder's `max_seq_length`.
"""

from __future__ import annotations

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


class Chunker:
    def __init__(
        self, tokenize: Callable[[str], list[int]], max_seq_length: int, size_tokens: int, overlap_tokens: int
    ) -> None:
        if size_tokens + SPECIAL_TOKENS > max_seq_length:
            raise InvalidInput(
                f"chunk size {size_tokens} tokens does not fit the embedder's max_seq_length {max_seq_length}"
                f" (at most {max_seq_length - SPECIAL_TOKENS})"
            )
        self.tokenize = tokenize
        self.size_tokens = size_tokens
        self.splitter = SentenceSplitter(chunk_size=size_tokens, chunk_overlap=overlap_tokens, tokenizer=tokenize)

    def split(self, document: LoadedDocument) -> list[TextChunk]:
        chunks: list[TextChunk] = []
        for page in document.pages:
            cursor = 0
            for piece in self.splitter.split_text(page.text):
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
