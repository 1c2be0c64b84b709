"""In-memory BM25 for one collection, updated document by document.

Why not a library: bm25s scores fast but builds its index in one go (no adds or deletes), and SQLite
FTS5 scores every posting of every query term through a virtual-table cursor, 15-60 ms per query
at 100k chunks when queries hold common words. This keeps per-term postings as numpy arrays, so a
query is a few vectorised passes (1-3 ms at 100k chunks), and documents can be added and removed
as other processes change the SQLite chunk table (see rag.retrieval.keyword, which owns the persistence).

Scoring is Lucene's BM25 (k1 1.2, b 0.75, idf ln(1 + (N - df + 0.5) / (df + 0.5))). Text is
lower-cased, split on word characters and Snowball-stemmed; English stop words are dropped from
queries unless the query holds nothing else, so "the" can still be searched for.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.text.analyzer import STOP_WORDS, WORD, Analyzer

# Rows tokenised and sorted together on a bulk load: bounds its working memory (~50 bytes a token) whatever
# the collection's size, and is large enough that a million chunks make a few dozen segments per term.
_SLICE_ROWS = 50_000


@dataclass
class _Postings:
    slots: list[np.ndarray]  # segments, merged on first use after a change
    tfs: list[np.ndarray]

    def merged(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.slots:  # a term only removed documents held (a query may still name it)
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        if len(self.slots) > 1:
            self.slots, self.tfs = [np.concatenate(self.slots)], [np.concatenate(self.tfs)]
        return self.slots[0], self.tfs[0]


@dataclass
class _Block:
    """Term counts of consecutive slots, slot-major (CSR): what removal and compaction read back."""

    first: int
    offsets: np.ndarray  # slot i's terms are terms[offsets[i]:offsets[i+1]]
    terms: np.ndarray
    tfs: np.ndarray


class Bm25Index:
    """Chunks live in numbered slots; removed slots are masked out and reclaimed by compaction."""

    def __init__(self, analyzer: Analyzer | None = None, k1: float = 1.2, b: float = 0.75) -> None:
        self.analyzer = analyzer or Analyzer()
        self.k1, self.b = k1, b
        self.lock = threading.RLock()  # queries and updates come from several request threads
        self._reset()

    def _reset(self) -> None:
        self.vocabulary: dict[str, int] = {}  # stem -> term id
        self._word_terms: dict[str, int] = {}  # lower-cased word -> term id, so each token costs one lookup
        self._postings: list[_Postings] = []
        self._df = np.zeros(0, dtype=np.int64)
        self._chunk_ids: list[str] = []
        self._slot_of: dict[str, int] = {}
        self._rowids: list[int] = []
        self._lengths = np.zeros(0, dtype=np.float32)
        self._alive = np.zeros(0, dtype=bool)
        self._blocks: list[_Block] = []
        self._block_firsts: list[int] = []  # each block's first slot, for bisect
        self._documents: dict[str, range] = {}
        self._live = 0
        self._total_length = 0.0
        self._contributions: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return self._live

    def add(self, document_id: str, rows: Sequence[tuple[int, str, str]]) -> None:
        """Index a document's chunks, given as (rowid, chunk_id, text); replaces what it had."""
        self.add_many([(document_id, rows)])

    def add_many(self, documents: Iterable[tuple[str, Sequence[tuple[int, str, str]]]]) -> None:
        """Index several documents in one pass (a collection's first load is one call).

        `documents` is read lazily, a slice of whole documents at a time: a collection of a million chunks
        then never holds all its text, nor one token array of all of it, in memory at once."""
        with self.lock:
            # Each slice appends a segment to its terms' postings: merged at the term's first query.
            batch: dict[str, list[tuple[int, str, str]]] = {}
            size, added = 0, False
            for document_id, rows in documents:
                size -= len(batch.pop(document_id, ()))  # a document given twice: the later rows win
                batch[document_id] = list(rows)
                size += len(batch[document_id])
                if size >= _SLICE_ROWS:
                    self._add_slice(batch)
                    batch, size, added = {}, 0, True
            if batch or not added:
                self._add_slice(batch)

    def _add_slice(self, batch: dict[str, list[tuple[int, str, str]]]) -> None:
        for document_id in batch:
            self.remove(document_id)
        rows = [row for document_rows in batch.values() for row in document_rows]
        pieces, counts = [], []
        for start in range(0, len(rows), 4096):  # in slices: millions of token strings at once cost GBs
            words = [WORD.findall(text.lower()) for _, _, text in rows[start : start + 4096]]
            self._learn_words(set(itertools.chain.from_iterable(words)))
            tokens = itertools.chain.from_iterable(words)
            pieces.append(np.array(list(map(self._word_terms.__getitem__, tokens)), dtype=np.int64))
            counts += [len(ws) for ws in words]
        flat = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
        slots = np.repeat(np.arange(len(rows)), counts)
        # One sort turns the token stream into (slot, term, count) triples, slot-major.
        keys, tfs = np.unique(slots * len(self._postings) + flat, return_counts=True)
        self._append(
            [(d, len(r)) for d, r in batch.items()],
            [(rowid, chunk_id) for rowid, chunk_id, _ in rows],
            keys // len(self._postings) if len(keys) else keys,
            keys % len(self._postings) if len(keys) else keys,
            tfs.astype(np.float32),
        )

    def _learn_words(self, words: set[str]) -> None:
        new = [w for w in words if w not in self._word_terms]
        for word, stem in zip(new, self.analyzer.stems(new), strict=True):
            term_id = self.vocabulary.get(stem)
            if term_id is None:
                term_id = self.vocabulary[stem] = len(self._postings)
                self._postings.append(_Postings([], []))
            self._word_terms[word] = term_id

    def _append(
        self,
        documents: list[tuple[str, int]],
        rows: list[tuple[int, str]],
        slots: np.ndarray,
        terms: np.ndarray,
        tfs: np.ndarray,
    ) -> None:
        """Add slots for `rows` (grouped by `documents`), from slot-major (slot, term, tf) triples."""
        first, added = len(self._chunk_ids), len(rows)
        position = first
        for document_id, count in documents:
            self._documents[document_id] = range(position, position + count)
            position += count
        self._slot_of.update((chunk_id, first + i) for i, (_, chunk_id) in enumerate(rows))
        self._chunk_ids += [chunk_id for _, chunk_id in rows]
        self._rowids += [rowid for rowid, _ in rows]
        lengths = np.bincount(slots, weights=tfs, minlength=added).astype(np.float32)
        self._lengths = np.concatenate([self._lengths, lengths])
        self._alive = np.concatenate([self._alive, np.ones(added, dtype=bool)])
        self._live += added
        self._total_length += float(lengths.sum())
        self._df = np.concatenate([self._df, np.zeros(len(self._postings) - len(self._df), dtype=np.int64)])
        self._df += np.bincount(terms, minlength=len(self._postings))
        offsets = np.searchsorted(slots, np.arange(added + 1))
        self._blocks.append(_Block(first, offsets, terms.astype(np.int32), tfs))
        self._block_firsts.append(first)
        order = np.argsort(terms, kind="stable")
        terms, slots, tfs = terms[order], (slots[order] + first).astype(np.int32), tfs[order]
        bounds = np.flatnonzero(np.diff(terms)) + 1
        for start, end in zip(np.concatenate([[0], bounds]), np.append(bounds, len(terms)), strict=True):
            if end > start:
                postings = self._postings[int(terms[start])]
                postings.slots.append(slots[start:end])
                postings.tfs.append(tfs[start:end])
        self._contributions.clear()

    def _slot_counts(self, slot: int) -> tuple[np.ndarray, np.ndarray]:
        block = self._blocks[bisect.bisect_right(self._block_firsts, slot) - 1]
        i = slot - block.first
        return block.terms[block.offsets[i] : block.offsets[i + 1]], block.tfs[block.offsets[i] : block.offsets[i + 1]]

    def remove(self, document_id: str) -> None:
        with self.lock:
            slots = self._documents.pop(document_id, None)
            if not slots:
                return
            for slot in slots:
                terms, _ = self._slot_counts(slot)
                self._df[terms] -= 1
                self._alive[slot] = False
                self._live -= 1
                self._total_length -= float(self._lengths[slot])
                if self._slot_of.get(self._chunk_ids[slot]) == slot:
                    del self._slot_of[self._chunk_ids[slot]]
            self._contributions.clear()
            dead = len(self._chunk_ids) - self._live
            if dead > 1000 and dead > len(self._chunk_ids) // 4:
                self._compact()

    def _compact(self) -> None:
        """Rebuild without the removed slots (their postings still take memory and scoring time)."""
        documents = list(self._documents.items())
        order = [slot for _, slots in documents for slot in slots]
        counts = [self._slot_counts(slot) for slot in order]
        rows = [(self._rowids[s], self._chunk_ids[s]) for s in order]
        terms = np.concatenate([t for t, _ in counts]) if counts else np.zeros(0, dtype=np.int64)
        # Only the terms live chunks still hold are kept, renumbered: the words of deleted documents (a large
        # upload's, a fuzzing run's) would otherwise stay in memory for the index's life.
        kept = np.unique(terms)
        renumber = np.full(len(self._postings), -1, dtype=np.int64)
        renumber[kept] = np.arange(len(kept))
        vocabulary = {stem: int(renumber[t]) for stem, t in self.vocabulary.items() if renumber[t] >= 0}
        word_terms = {word: int(renumber[t]) for word, t in self._word_terms.items() if renumber[t] >= 0}
        self._reset()
        self.vocabulary, self._word_terms = vocabulary, word_terms
        self._postings = [_Postings([], []) for _ in range(len(kept))]
        sizes = [len(t) for t, _ in counts]
        self._append(
            [(d, len(slots)) for d, slots in documents],
            rows,
            np.repeat(np.arange(len(order)), sizes),
            renumber[terms],
            np.concatenate([f for _, f in counts]) if counts else np.zeros(0, dtype=np.float32),
        )

    def _contribution(self, term_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Each posting's BM25 contribution for the term; cached until the next change."""
        cached = self._contributions.get(term_id)
        if cached is None:
            slots, tfs = self._postings[term_id].merged()
            df = float(self._df[term_id])
            idf = np.log1p((self._live - df + 0.5) / (df + 0.5))
            average = self._total_length / max(self._live, 1)
            norm = tfs + self.k1 * (1 - self.b + self.b * self._lengths[slots] / max(average, 1e-9))
            scores = (idf * tfs * (self.k1 + 1) / norm * self._alive[slots]).astype(np.float32)
            cached = self._contributions[term_id] = (slots, scores)
        return cached

    def score(self, query: str, rowids: np.ndarray | None = None) -> Scores:
        """Every chunk's score for `query`; `rowids` restricts to those rows (the others score 0)."""
        with self.lock:  # a compaction between reading the term ids and scoring would renumber them
            return self.score_weighted(dict.fromkeys(self.query_term_ids(query), 1.0), rowids)

    def query_term_ids(self, query: str) -> list[int]:
        return [t for t in (self.vocabulary.get(w) for w in self.analyzer.query_terms(query)) if t is not None]

    def stop_term_ids(self) -> set[int]:
        """The term ids of stop words: never worth adding to a query."""
        return {t for t in (self.vocabulary.get(s) for s in self.analyzer.stems(sorted(STOP_WORDS))) if t is not None}

    def chunk_terms(self, chunk_ids: Sequence[str]) -> list[dict[int, float]]:
        """Each chunk's term counts (term id -> count); empty for a chunk not live here."""
        with self.lock:
            found: list[dict[int, float]] = []
            for chunk_id in chunk_ids:
                slot = self._slot_of.get(chunk_id)
                terms, tfs = self._slot_counts(slot) if slot is not None else ([], [])
                found.append(dict(zip(np.asarray(terms).tolist(), np.asarray(tfs).tolist(), strict=True)))
            return found

    def score_weighted(self, weights: dict[int, float], rowids: np.ndarray | None = None) -> Scores:
        """Every chunk's score for a query given as term weights (1.0 each for a plain query)."""
        with self.lock:
            scores = np.zeros(len(self._chunk_ids), dtype=np.float32)
            for term_id, weight in weights.items() if self._live else []:
                if term_id >= len(self._postings):  # ids read before a compaction renumbered the terms
                    continue
                slots, contribution = self._contribution(term_id)
                scores[slots] += contribution if weight == 1.0 else contribution * np.float32(weight)
            if rowids is not None:
                scores[~np.isin(np.asarray(self._rowids), rowids)] = 0.0
            # The slot lists are only appended to, or replaced whole by a compaction: a safe snapshot.
            return Scores(scores, self._chunk_ids, self._slot_of)

    def term_counts(self, query: str, rowids: np.ndarray | None = None) -> tuple[dict[str, int], int]:
        """How many live chunks hold each of the query's terms (0: unknown here), and how many chunks are live;
        `rowids`: counted over those rows only (a document scope's: what it hides must not count as known)."""
        with self.lock:
            terms = self.analyzer.query_terms(query)
            if rowids is None:
                known = {t: int(self._df[self.vocabulary[t]]) for t in terms if t in self.vocabulary}
                return {t: known.get(t, 0) for t in terms}, self._live
            admitted = self._live_among(rowids)
            counts = dict.fromkeys(terms, 0)
            for term in terms:
                term_id = self.vocabulary.get(term)
                if term_id is not None and term_id < len(self._postings):
                    counts[term] = int(admitted[self._contribution(term_id)[0]].sum())
            return counts, int(admitted.sum())

    def chunk_ids_of(self, rowids: np.ndarray) -> list[str]:
        """The live chunks among `rowids` (a document scope's rows), by chunk id."""
        with self.lock:
            return [self._chunk_ids[s] for s in np.flatnonzero(self._live_among(rowids))]

    def _live_among(self, rowids: np.ndarray) -> np.ndarray:
        """Per slot: live, and one of `rowids` (held under the lock)."""
        return np.isin(np.asarray(self._rowids), rowids) & self._alive[: len(self._rowids)]

    def search(self, query: str, depth: int, rowids: np.ndarray | None = None) -> list[tuple[str, float]]:
        """The best `depth` (chunk_id, score) pairs, best first."""
        return self.score(query, rowids).top(depth)


@dataclass
class Scores:
    """One query's BM25 scores over a collection: the best few, or any chunk's by id."""

    values: np.ndarray
    chunk_ids: list[str]
    slot_of: dict[str, int]

    def top(self, depth: int) -> list[tuple[str, float]]:
        matched = np.flatnonzero(self.values > 0)
        if len(matched) > depth:
            matched = matched[np.argpartition(-self.values[matched], depth - 1)[:depth]]
        best = matched[np.argsort(-self.values[matched], kind="stable")]
        return [(self.chunk_ids[s], float(self.values[s])) for s in best]

    def has(self, chunk_id: str) -> bool:
        """Whether the chunk was live when the scores were computed."""
        slot = self.slot_of.get(chunk_id)
        return slot is not None and slot < len(self.values)

    def of(self, chunk_id: str) -> float:
        slot = self.slot_of.get(chunk_id)
        return float(self.values[slot]) if slot is not None and slot < len(self.values) else 0.0
