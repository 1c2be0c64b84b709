"""The sentences of retrieved chunks, and how close each is in meaning to a question.

Answerability, sentence choice and the final relevance check all ask the same thing of the same
sentences: does one of them answer this question? The shipped embedder was trained on question–answer
pairs, so question ↔ sentence cosine is that signal, in words the question does not share. Each
sentence is embedded once per process (a bounded LRU cache keyed by its text: the same chunks come back
for question after question), so the three steps share one embedding pass.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.retrieval.embeddings import Embedder
from rag.text.analyzer import WORD
from rag.text.sentences import readings, split_sentences
from rag.text.tables import find_tables, row_lines
from rag.text.words import normalize
from rag.types import SearchHit

_SPACE = re.compile(r"\s+")
_QUESTIONS_KEPT = 256
_MARKER = re.compile(r"\s*\[\d+\]")
_MIN_WORDS = 3  # shorter pieces are headings or page furniture
_HEADING_WORDS = 6
_END = re.compile(r"[.!:;)\]\"'”’]\s*$")
_TABLE_ROW = re.compile(r"[^:;]{1,80}: [^;]+(?:; [^:;]{1,80}: [^;]+)+")  # "Header: cell; Header: cell"
_CAPTION_CHARS = 200
_DOT_LEADER = re.compile(r"\s\.$")  # "2.2 Invoking convert-ly . . . 18": what is left of a table of contents


def clean_quote(text: str) -> str:
    """Readable quote text: NFKC (ligatures), unified dashes, whitespace collapsed."""
    return _SPACE.sub(" ", normalize(text)).strip()


def is_prose(quote: str) -> bool:
    """Not a heading, page furniture, a table-of-contents line or a question (an FAQ's), which answer nothing.
    A heading is short and has no end punctuation ("Before you go"); a table row has its column names."""
    if quote.rstrip(" .…").endswith("?"):
        return False
    if is_table_row(quote):
        return len(WORD.findall(quote)) >= _MIN_WORDS
    words = len(WORD.findall(quote))
    if words <= _HEADING_WORDS and not _END.search(quote):
        return False
    return words >= _MIN_WORDS and not _DOT_LEADER.search(quote)


def is_table_row(quote: str) -> bool:
    """A row of a table as it is read and quoted: "Header: cell; Header: cell"."""
    return bool(_TABLE_ROW.fullmatch(quote))


def _heading_lines(text: str) -> bool:
    """Several lines that are each a heading (short, capitalised, no end punctuation): a page's title above
    its first heading, or a stack of section titles. Joined they look like a sentence but answer nothing."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return len(lines) > 1 and all(
        len(WORD.findall(line)) <= _HEADING_WORDS and not _END.search(line) and not line[0].islower() for line in lines
    )


@dataclass(frozen=True)
class SourceSentence:
    n: int  # 1-based index into the sources
    position: int  # the sentence's index in its chunk
    start: int  # range inside the chunk's text
    end: int
    quote: str  # clean_quote of the range
    context: str = ""  # for a table row: the line above its table (what the rows are about)

    @property
    def scored(self) -> str:
        """What is compared with the question: a row alone ("Code: F2; Meaning: Water not draining") lacks
        the words of what its table lists ("error codes of the dishwasher"), so it is read with its caption."""
        return with_caption(self.context, self.quote)


def with_caption(caption: str, text: str) -> str:
    """A table row's text read after its caption (the text alone when it has none)."""
    return f"{caption} {text}" if caption else text


def row_captions(text: str) -> dict[int, str]:
    """The caption of each table row, by the row's first character: the line just above its table (the
    chunker repeats it with the header row in every chunk holding part of a table)."""
    captions: dict[int, str] = {}
    for table in find_tables(text):
        above = text[: table.start].rstrip().rpartition("\n")[2]
        caption = clean_quote(above)[:_CAPTION_CHARS]
        if caption and not above.lstrip().startswith("|"):
            for start, _ in row_lines(text, table):
                captions[start] = caption
    return captions


def source_sentences(sources: Sequence[SearchHit]) -> list[SourceSentence]:
    """Every distinct prose sentence of the sources, in rank then text order (overlapping chunks repeat
    sentences: each is kept once, at its best rank)."""
    sentences: list[SourceSentence] = []
    seen: set[str] = set()
    for n, hit in enumerate(sources, start=1):
        spans = split_sentences(hit.text)
        captions = row_captions(hit.text)
        for position, (s, reading) in enumerate(zip(spans, readings(hit.text, spans), strict=True)):
            quote = clean_quote(reading)  # a table row with its column names
            if quote and quote not in seen and not _heading_lines(reading):
                seen.add(quote)
                sentences.append(SourceSentence(n, position, s.start, s.end, quote, captions.get(s.start, "")))
    return sentences


class SentenceVectors:
    """Sentence and question vectors with a bounded LRU cache (thread-safe: requests share it)."""

    def __init__(self, embedder: Embedder, cache_size: int = 16384) -> None:
        self.embedder = embedder
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._questions: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def question(self, text: str) -> np.ndarray:
        """The question's vector, kept: the gate, sentence choice and the relevance check all ask for it."""
        with self._lock:
            if text in self._questions:
                self._questions.move_to_end(text)
                return self._questions[text]
        vector = self.embedder.embed_query(clean_quote(text))
        with self._lock:
            self._questions[text] = vector
            while len(self._questions) > _QUESTIONS_KEPT:
                self._questions.popitem(last=False)
        return vector

    def similarities(self, question: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Cosine of each text to the question vector (vectors are normalised)."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        return self.embed(texts) @ question

    def relevance(self, question: str, answer: str) -> float:
        """How well the answer's best sentence addresses the question (its [n] markers left out)."""
        sentences = [clean_quote(_MARKER.sub("", s.text)) for s in split_sentences(answer)]
        sentences = [s for s in sentences if s]
        return float(self.similarities(self.question(question), sentences).max()) if sentences else 0.0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors, in one batch for the texts the cache lacks."""
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
            for t in known:
                self._vectors.move_to_end(t)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            fresh = self.embedder.embed_sentences(missing)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    known[text] = self._vectors[text] = vector
                while len(self._vectors) > self._cache_size:
                    self._vectors.popitem(last=False)
        return np.stack([known[t] for t in texts])
