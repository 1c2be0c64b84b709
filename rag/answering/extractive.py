"""Extractive answers: the source sentences that best answer a question, quoted with `[n]` citations.

The default local model (SmolLM2-135M) rarely cites and often invents; a quote cannot invent and always
cites. Every sentence of the given sources gets its similarity in meaning to the question (the embedder
finds the answer worded unlike the question), a keyword score (BM25 of the question's words, their
rarity counted over these sentences, so long sentences gain no free words), a cue for the question's
type (a number for "how many", a path for "where", the term up front for "what is X") and a small
penalty for a lower-ranked source. The winner is quoted, with the neighbours that continue it or
runners-up that add to it. A sentence too far in meaning from the question answers nothing, however
many of its words it shares: with none left, the answer is empty and the caller abstains.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rag.answering.sentences import (
    SentenceVectors,
    clean_quote,
    is_prose,
    is_table_row,
    source_sentences,
    with_caption,
)
from rag.text.analyzer import STOP_WORDS, WORD, Analyzer
from rag.text.words import content_words, normalize, numbers
from rag.types import SearchHit

_SPACE = re.compile(r"\s+")
# Question types whose answer has a recognisable shape. General English, nothing about one collection.
_WANTS_NUMBER = re.compile(
    r"\bhow (?:many|much|long|large|big|often|far|old)\b|\bwhich versions?\b|"
    r"\b(?:default|maximum|minimum|largest|smallest|limit|size|number|value|resolution|version)s?\b",
    re.IGNORECASE,
)
_WANTS_PATH = re.compile(r"\bwhere\b|\b(?:files?|director(?:y|ies)|folders?|paths?|locations?)\b", re.IGNORECASE)
_WANTS_DEFINITION = re.compile(r"\bwhat (?:is|are|does|do)\b|\b(?:mean|means|meaning|definition)\b", re.IGNORECASE)
_PATH = re.compile(r"(?:~|\$\w+)?/[\w.-]+|(?<![\w.])\.[A-Za-z_][\w-]*|\b[\w-]+\.[a-z]{2,5}\b")  # /etc/x .RData a.conf
_HEAD_WORDS = 6  # "X is ...", "--opt Does ...": a definition names its subject first

# Coverage and similarity both run over about [0, 1]; the cue and the source's rank are nudges.
_SIMILARITY_WEIGHT = 1.0
_CUE_WEIGHT = 0.15
_RANK_PENALTY = 0.03  # per rank: the best-ranked source is right more often, but far from always
# Question ↔ sentence cosine below which a sentence does not address the question: the answerability
# model's `min_relevance` (fitted; see benchmarks/fit_answerability.py), 0 = every sentence may answer.
MIN_RELEVANCE = 0.0
# Holding none of the question's words, a sentence needs this similarity to count (a paraphrase of the
# answer scores 0.4-0.6 with MiniLM, an unrelated sentence under 0.15).
_MIN_SIMILARITY = 0.3
_MIN_GAIN = 0.2  # a runner-up from elsewhere must add this share of the question's word weight ...
_CLOSE_MARGIN = 0.25  # ... and score within this of the best sentence
_MIN_CONTINUATION_GAIN = 0.1  # the sentence before or after a quoted one needs less: it shares its subject
# A quote read alone often lacks what makes it an answer: the values after "Set the output verbosity to
# loglevel.", the steps after "Term employees can use HR Links to find their term end date." The best
# sentence's neighbours in its paragraph are added while the answer stays this short.
PASSAGE_WORDS = 30
_LIST_ITEM = re.compile(r"(?:[-*•+]|\d+[.)])\s")
_BM25_K1, _BM25_B = 1.2, 0.75


@dataclass(frozen=True)
class ExtractedSentence:
    n: int  # 1-based index into the sources list
    chunk_id: str
    start: int  # range inside sources[n-1].text (the trimmed window of an over-long sentence)
    end: int
    text: str  # the quote as shown: ligatures normalised, whitespace collapsed, "…" where trimmed
    score: float
    relevance: float  # its cosine to the question


@dataclass
class ExtractedAnswer:
    text: str  # the quoted sentences joined, each followed by " [n]"
    sentences: list[ExtractedSentence] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """No sentence had evidence: the caller should abstain."""
        return not self.sentences


@dataclass(eq=False)
class _Candidate:
    n: int
    chunk_id: str
    position: int  # the sentence's index in its chunk: neighbours continue each other
    start: int
    end: int
    terms: list[str]  # stems of the words that are not stop words, in text order
    quote: str
    score: float = 0.0
    relevance: float = 0.0  # cosine to the question
    cue: bool = False  # has the shape the question asks for
    context: str = ""  # a table row's caption: read with the row when scored, never quoted

    @property
    def scored(self) -> str:
        return with_caption(self.context, self.quote)

    @property
    def cost(self) -> int:
        """Characters it adds to the answer: the quote, its " [n]" and a joining space."""
        return len(self.quote) + len(str(self.n)) + 4


@dataclass
class _Cues:
    """What the question's wording says the answer looks like."""

    number: bool
    path: bool
    subject: str | None  # the defined term, for "what is X" / "X meaning"
    asked_numbers: set[str]

    @classmethod
    def of(cls, question: str, idf: dict[str, float]) -> _Cues:
        subject = max(idf, key=idf.__getitem__) if idf and _WANTS_DEFINITION.search(question) else None
        return cls(bool(_WANTS_NUMBER.search(question)), bool(_WANTS_PATH.search(question)), subject, numbers(question))

    def match(self, quote: str, terms: list[str]) -> bool:
        return (
            (self.number and bool(numbers(quote) - self.asked_numbers))
            or (self.path and bool(_PATH.search(quote)))
            or (self.subject is not None and self.subject in terms[:_HEAD_WORDS])
        )


class ExtractiveAnswerer:
    """Picks and quotes source sentences (their vectors come from the shared, cached SentenceVectors)."""

    def __init__(
        self, vectors: SentenceVectors, max_sentences: int = 3, max_chars: int = 600,
        min_relevance: float = MIN_RELEVANCE, max_list_items: int = 8, passage_words: int = PASSAGE_WORDS,
    ) -> None:  # fmt: skip
        self.vectors = vectors
        self.max_sentences = max_sentences
        self.max_list_items = max_list_items
        self.max_chars = max_chars
        self.min_relevance = min_relevance
        self.passage_words = passage_words
        self.window_chars = max(80, max_chars // 2)  # an over-long sentence is cut to this many characters
        self.analyzer = Analyzer()

    def answer(self, question: str, sources: Sequence[SearchHit]) -> ExtractedAnswer:
        """The best sentence, plus up to max_sentences - 1 that continue or add to it; empty without evidence."""
        question_terms = list(dict.fromkeys(self.analyzer.stems(content_words(question))))  # in order: ties break alike
        candidates, idf, absent = self._candidates(question_terms, sources)
        if not candidates:
            return ExtractedAnswer("", [])
        cues = _Cues.of(question, idf)
        average_length = sum(len(c.terms) for c in candidates) / len(candidates)
        similarity = self.vectors.similarities(self.vectors.question(question), [c.scored for c in candidates])
        for c, sim in zip(candidates, similarity.tolist(), strict=True):
            c.cue = cues.match(c.quote, c.terms)
            c.relevance = sim
            keywords = _coverage(c.terms, idf, average_length, absent)
            c.score = keywords + _SIMILARITY_WEIGHT * sim + _CUE_WEIGHT * c.cue - _RANK_PENALTY * (c.n - 1)
        relevant = [c for c in candidates if c.relevance >= self.min_relevance]
        if not relevant or (not idf and max(c.relevance for c in relevant) < _MIN_SIMILARITY):
            return ExtractedAnswer("", [])  # none addresses the question, or none of its words and nothing close
        pages = {n: (hit.filename, hit.page) for n, hit in enumerate(sources, start=1)}
        chosen = self._select(relevant, candidates, idf, pages)
        return _compose(_with_passage(chosen, candidates, self.max_sentences, self.passage_words, self.max_chars))

    def _candidates(
        self, question_terms: list[str], sources: Sequence[SearchHit]
    ) -> tuple[list[_Candidate], dict[str, float], float]:
        """Every distinct sentence of the sources (long ones trimmed), and the question words' IDF over them."""
        sentences = [
            _Candidate(
                s.n,
                sources[s.n - 1].chunk_id,
                s.position,
                s.start,
                s.end,
                self._terms(s.scored),
                s.quote,
                context=s.context,
            )
            for s in source_sentences(sources)
        ]
        found = [set(c.terms) for c in sentences]
        idf: dict[str, float] = {}
        absent = 0.0  # the weight of the question's words no sentence holds: still part of what it asks
        for term in question_terms:  # a word in every sentence tells none apart; one in a single sentence, a lot
            df = sum(term in terms for terms in found)
            if df:
                idf[term] = math.log(1 + (len(found) - df + 0.5) / (df + 0.5))
            else:
                absent += math.log(1 + (len(found) + 0.5) / 0.5)
        trimmed = (self._trim(c, sources[c.n - 1].text, idf) for c in sentences)
        return [c for c in trimmed if is_prose(c.quote)], idf, absent

    def _terms(self, text: str) -> list[str]:
        return self.analyzer.stems([w for w in WORD.findall(normalize(text).lower()) if w not in STOP_WORDS])

    def _trim(self, c: _Candidate, text: str, idf: dict[str, float]) -> _Candidate:
        """An over-long sentence (an option table or a list, as PDFs extract them) cut to the window richest
        in the question's words, on word boundaries, rather than dropped."""
        start, end, width = c.start, c.end, self.window_chars
        if end - start <= width * 4 // 3:
            return c
        matches = list(WORD.finditer(text, start, end))
        stems = self.analyzer.stems([normalize(m.group(0)).lower() for m in matches])
        hits = [(m.start(), stem) for m, stem in zip(matches, stems, strict=True) if stem in idf]
        # The shortest span holding the heaviest set of question words, with a little context before it.
        best, span = (0.0, 0), (start, start)
        for i, (first, _) in enumerate(hits):
            seen, weight = set(), 0.0
            for at, stem in hits[i:]:
                if at - first > width // 2:
                    break
                if stem not in seen:
                    seen.add(stem)
                    weight += idf[stem]
                if (weight, first - at) > best:
                    best, span = (weight, first - at), (first, at)
        left = max(start, min(span[0] - width // 4, end - width))
        right = min(end, left + width)
        if left > start and not text[left - 1].isspace():
            space = _SPACE.search(text, left, right)
            left = space.end() if space else left
        if right < end and not text[right].isspace():
            right = max(text.rfind(" ", left, right), text.rfind("\n", left, right), left + 1)
        piece = text[left:right]
        left, right = left + len(piece) - len(piece.lstrip()), left + len(piece.rstrip())
        quote = ("… " if left > start else "") + clean_quote(text[left:right]) + (" …" if right < end else "")
        return _Candidate(
            c.n,
            c.chunk_id,
            c.position,
            left,
            right,
            self._terms(with_caption(c.context, text[left:right])),
            quote,
            context=c.context,
        )

    def _select(
        self,
        relevant: list[_Candidate],
        candidates: list[_Candidate],
        idf: dict[str, float],
        pages: dict[int, tuple[str, int | None]],
    ) -> list[_Candidate]:
        """The best relevant sentence; then, while one gains enough, the sentence before or after a quoted one
        (answers often span two), or a close relevant runner-up on the same page that adds more of the
        question. Runners-up from other pages cost more than they add: on kb-dev they were mostly wrong
        citations. A quoted sentence that introduces a list ("Before you leave, be sure to:") brings its
        items, up to max_list_items: the list is the answer."""
        best = max(relevant, key=lambda c: c.score)
        chosen, covered, length = [best], idf.keys() & best.terms, best.cost
        total = sum(idf.values()) or 1.0
        runners_up = {id(c) for c in relevant if c.score >= best.score - _CLOSE_MARGIN and pages[c.n] == pages[best.n]}
        listing = _introduces_list(best)
        while len(chosen) < (self.max_list_items if listing else self.max_sentences):
            cue_met = any(c.cue for c in chosen)
            last = chosen[-1]
            gains = []
            for c in candidates:
                if c in chosen or length + c.cost > self.max_chars or any(_overlaps(c, o) for o in chosen):
                    continue
                if (
                    listing
                    and c.chunk_id == last.chunk_id
                    and c.position == last.position + 1
                    and _LIST_ITEM.match(c.quote)
                ):
                    gains = [(1.0, c)]  # the list's next item
                    break
                gain = sum(w for t, w in idf.items() if t not in covered and t in c.terms) / total
                gain += _CUE_WEIGHT if c.cue and not cue_met else 0.0
                adjacent = any(o.chunk_id == c.chunk_id and abs(o.position - c.position) == 1 for o in chosen)
                if (adjacent and gain >= _MIN_CONTINUATION_GAIN) or (id(c) in runners_up and gain >= _MIN_GAIN):
                    gains.append((gain, c))
            if not gains:
                break
            pick = max(gains, key=lambda pair: pair[0])[1]
            listing = listing and pick.chunk_id == last.chunk_id and pick.position == last.position + 1
            chosen.append(pick)
            covered |= idf.keys() & pick.terms
            length += pick.cost
        return chosen


def _with_passage(
    chosen: list[_Candidate], candidates: list[_Candidate], sentences: int, words: int, chars: int
) -> list[_Candidate]:
    """The chosen sentences and the best one's neighbours in its chunk (those after it first, then before it)
    while the answer stays within `sentences` sentences, `words` words and `chars` characters. A heading or
    another line that is not prose ends the passage (what follows it is another section); a table row is
    whole (its neighbours are other rows)."""
    best = chosen[0]
    if is_table_row(best.quote):
        return chosen
    by_position = {c.position: c for c in candidates if c.chunk_id == best.chunk_id}
    count, length = sum(_words(c) for c in chosen), sum(c.cost for c in chosen)
    passage = list(chosen)
    for step in (1, -1):
        position = best.position + step
        while (c := by_position.get(position)) is not None:
            if c not in passage and not any(_overlaps(c, o) for o in passage):
                if len(passage) >= sentences or count + _words(c) > words or length + c.cost > chars:
                    break
                passage.append(c)
                count, length = count + _words(c), length + c.cost
            position += step
    return passage


def _words(c: _Candidate) -> int:
    return len(WORD.findall(c.quote))


def _introduces_list(c: _Candidate) -> bool:
    return c.quote.rstrip(" …").endswith(":")


def _coverage(terms: list[str], idf: dict[str, float], average_length: float, absent: float) -> float:
    """BM25 of the sentence for the question's words; a sentence of average length holding all of them
    once scores 1, a longer one less for the same words. Words no sentence holds count in the whole: one
    shared word of six is not full coverage."""
    total = sum(idf.values()) + absent
    if not total:
        return 0.0
    norm = _BM25_K1 * (1 - _BM25_B + _BM25_B * len(terms) / max(average_length, 1.0))
    counts = {t: terms.count(t) for t in idf}
    return sum(w * counts[t] * (_BM25_K1 + 1) / (counts[t] + norm) for t, w in idf.items() if counts[t]) / total


def _overlaps(a: _Candidate, b: _Candidate) -> bool:
    """The same span, or the same words again: quote nothing twice."""
    if a.chunk_id == b.chunk_id:
        return a.start < b.end and b.start < a.end
    shorter, longer = sorted((a.quote.strip("… "), b.quote.strip("… ")), key=len)
    return shorter in longer


def _compose(chosen: list[_Candidate]) -> ExtractedAnswer:
    """Quotes grouped by source (the best sentence's source first), in document order within a source."""
    source_order: dict[str, int] = {}
    for c in chosen:
        source_order.setdefault(c.chunk_id, len(source_order))
    ordered = sorted(chosen, key=lambda c: (source_order[c.chunk_id], c.start))
    sentences = [
        ExtractedSentence(c.n, c.chunk_id, c.start, c.end, c.quote, round(c.score, 4), round(c.relevance, 4))
        for c in ordered
    ]
    return ExtractedAnswer(" ".join(f"{s.text} [{s.n}]" for s in sentences), sentences)
