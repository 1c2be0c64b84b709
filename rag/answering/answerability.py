"""Answerability: decide before generation whether the collection can answer a question at all.

One dense-similarity threshold cannot do it: on real manuals, answerable and unanswerable questions
overlap on every raw score. What separates them is whether the question's own words are in the
sources. Three signals, all computed from the collection's BM25 statistics in well under a
millisecond:

- a specific term the collection never mentions ("ggplot2", "tlmgr", "soft-reboot"): a question
  about a named thing the documents lack cannot be answered from them. "Specific" means not a common
  word: a word the embedder's WordPiece vocabulary holds whole (with a plain English ending removed)
  is common ("idle", "squashed"), others are names, commands or identifiers. Hyphenated or
  underscored compounds count as one term and must occur as such.
- coverage: the share of the question's terms, weighted by their rarity (BM25 idf), found anywhere
  in the retrieved sources;
- focus: the same share in the single best-covering source (an answer rarely spans unrelated chunks).

Thresholds were set on shared/eval/kb-dev (8 manuals, 45 answerable and 15 unanswerable questions)
and checked on tests/data; see the README's answer-quality table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rag.text.analyzer import STOP_WORDS, WORD, Analyzer
from rag.text.words import normalize
from rag.types import SearchHit

MIN_COVERAGE = 0.45
MIN_FOCUS = 0.3
_SUFFIXES = ("ing", "ed", "es", "s", "ly", "er")
# Hyphenated/underscored names ("soft-reboot", "dh_strip") and paths ("~/.config/bash").
_COMPOUND = re.compile(r"(?<![\w./~-])([A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)+)(?![\w./-])")
_PATH = re.compile(r"(?<!\S)(~?[\w.-]*/[\w./-]*\w)")


@dataclass(frozen=True)
class Answerability:
    answerable: bool
    reason: str | None  # why not: "unknown_term", "low_coverage", "scattered"
    coverage: float
    focus: float
    unknown_terms: list[str] = field(default_factory=list)


def is_common_word(word: str, tokenize: Callable[[str], list[int]]) -> bool:
    """A word the vocabulary holds whole, or does once a plain English ending is removed."""
    if len(tokenize(word)) == 1:
        return True
    return any(word.endswith(s) and len(word) - len(s) >= 3 and len(tokenize(word[: -len(s)])) == 1 for s in _SUFFIXES)


def _squeeze(text: str) -> str:
    """Lower-case normalised text with line-break hyphenation undone ("history-\nsize" -> "history-size")."""
    return re.sub(r"([-_/])\s+", r"\1", normalize(text).lower())


def _variants(term: str) -> list[str]:
    if "/" in term:
        return [term.lower()]
    parts = re.split(r"[-_]", term.lower())
    return ["-".join(parts), "_".join(parts), "".join(parts)]


class AnswerabilityJudge:
    def __init__(
        self,
        analyzer: Analyzer,
        tokenize: Callable[[str], list[int]],
        term_counts: Callable[[str, str], tuple[dict[str, int], int]],
        texts_with_terms: Callable[[str, str], list[str]],
    ) -> None:
        """`term_counts(collection, query)`: chunk frequency per query term and the chunk count;
        `texts_with_terms(collection, query)`: the texts of the chunks that match `query` best."""
        self.analyzer = analyzer
        self.tokenize = tokenize
        self.term_counts = term_counts
        self.texts_with_terms = texts_with_terms

    def unknown_terms(self, collection: str, question: str, counts: dict[str, int]) -> list[str]:
        unknown = []
        for word in dict.fromkeys(w for w in WORD.findall(question.lower()) if w not in STOP_WORDS):
            stem = self.analyzer.terms(word)
            if stem and counts.get(stem[0], 1) == 0 and not word.isdigit() and not is_common_word(word, self.tokenize):
                unknown.append(word)
        for term in dict.fromkeys([*_COMPOUND.findall(normalize(question)), *_PATH.findall(normalize(question))]):
            parts = [p for p in re.split(r"[-_/.~]", term.lower()) if p]
            if term.lower() in unknown or all(is_common_word(p, self.tokenize) for p in parts):
                continue  # "non-interactively", "per-user": made of common words, phrased freely
            texts = self.texts_with_terms(collection, f"{term} {' '.join(parts)}")
            pattern = re.compile("|".join(rf"(?<![\w-]){re.escape(v)}(?![\w-])" for v in _variants(term)))
            if not any(pattern.search(_squeeze(t)) for t in texts):
                unknown.append(term.lower())
        return unknown

    def assess(self, collection: str, question: str, hits: Sequence[SearchHit]) -> Answerability:
        counts, chunks = self.term_counts(collection, question)
        if not hits or not counts:
            return Answerability(bool(hits), None if hits else "no_sources", 0.0, 0.0)
        idf = {t: math.log1p((chunks - df + 0.5) / (df + 0.5)) for t, df in counts.items()}
        total = sum(idf.values()) or 1.0
        per_hit = [set(self.analyzer.terms(h.text)) for h in hits]
        found = set().union(*per_hit)
        coverage = sum(v for t, v in idf.items() if t in found) / total
        focus = max(sum(v for t, v in idf.items() if t in terms) / total for terms in per_hit)
        unknown = self.unknown_terms(collection, question, counts)
        reason = None
        if unknown:
            reason = "unknown_term"
        elif coverage < MIN_COVERAGE:
            reason = "low_coverage"
        elif focus < MIN_FOCUS:
            reason = "scattered"
        return Answerability(reason is None, reason, round(coverage, 4), round(focus, 4), unknown)
