"""Answerability: decide before answering whether the retrieved sources can answer a question at all.

No single score can: on real collections answerable and unanswerable questions overlap on each raw score,
and questions in users' own words share few words with the text that answers them. The decision
combines, in a small logistic model fitted on labelled questions (`benchmarks/fit_answerability.py`):

- meaning: the best question ↔ sentence cosine over the top sources' sentences (the shipped embedder was
  trained on question–answer pairs, so it finds the answer worded unlike the question), how far that
  sentence stands out from the sources' other sentences, and the best question ↔ chunk cosine;
- words: coverage (the share of the question's terms, weighted by their BM25 idf, found anywhere in the
  sources) and focus (the same share in the single best-covering source);
- a specific term the collection never mentions ("ggplot2", "tlmgr", "soft-reboot"): a question about a
  named thing the documents lack cannot be answered from them. "Specific" means not a common word: a word
  the embedder's WordPiece vocabulary holds whole (with a plain English ending removed) is common, others
  are names, commands or identifiers. Document names and titles count as mentioned;
- agreement: whether the best dense candidate is also among the best keyword candidates.

The coefficients below were fitted on the union of shared/eval/kb-dev and shared/eval/handbook-dev; the
README gives each set's figures with the coefficients fitted on the other (the honest direction).
`RAG_ANSWERABILITY_MODEL` loads another fit (the script's JSON output), e.g. one fitted on an operator's
own questions.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rag.answering.sentences import SentenceVectors, is_prose, source_sentences
from rag.errors import InvalidInput
from rag.retrieval.hybrid import Retrieval
from rag.text.analyzer import STOP_WORDS, WORD, Analyzer
from rag.text.words import normalize
from rag.types import Chunk

FEATURES = (
    "sentence_similarity", "sentence_margin", "chunk_similarity", "coverage", "focus", "unknown_term", "agreement",
)  # fmt: skip
SENTENCE_SOURCES = 5  # the top sources whose sentences are compared with the question
AGREEMENT_DEPTH = 5  # the best dense candidate counts as agreed when it is among this many best keyword ones
MAX_NAMED_DOCUMENTS = 100_000  # documents whose names and titles the gate reads (only for an unknown term)
_NAME_PART = re.compile(r"[^\W_]+")
_SUFFIXES = ("ing", "ed", "es", "s", "ly", "er")
# Hyphenated/underscored names ("soft-reboot", "dh_strip") and paths ("~/.config/bash").
_COMPOUND = re.compile(r"(?<![\w./~-])([A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)+)(?![\w./-])")
_PATH = re.compile(r"(?<!\S)(~?[\w.-]*/[\w./-]*\w)")


@dataclass(frozen=True)
class AnswerabilityModel:
    """Logistic regression over FEATURES: answerable when sigmoid(bias + Σ weight·feature) ≥ threshold.
    `min_relevance`: the question ↔ sentence cosine an answer's sentence needs to count as addressing the
    question (the final check, after the sources were judged able to answer)."""

    weights: dict[str, float]
    bias: float
    threshold: float = 0.5
    min_relevance: float = 0.35
    fitted_on: str = ""

    def probability(self, features: Mapping[str, float]) -> float:
        z = self.bias + sum(w * features[name] for name, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def load(cls, path: Path) -> AnswerabilityModel:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            model = cls({str(k): float(v) for k, v in raw["weights"].items()}, float(raw["bias"]),
                        float(raw.get("threshold", 0.5)), float(raw.get("min_relevance", 0.35)),
                        str(raw.get("fitted_on", path.name)))  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput(f"cannot read the answerability model {path}: {exc}") from exc
        unknown = set(model.weights) - set(FEATURES)
        if unknown:
            raise InvalidInput(f"{path}: unknown feature(s) {sorted(unknown)}; known: {', '.join(FEATURES)}")
        return model


SHIPPED_MODEL = AnswerabilityModel(
    weights={
        "sentence_similarity": 2.9267, "sentence_margin": 1.329,
        "chunk_similarity": 3.0567, "coverage": 0.737, "focus": 0.9939,
        "unknown_term": -1.0807, "agreement": 0.4055,
    },
    bias=-4.7786,
    threshold=0.5,
    min_relevance=0.546,
    fitted_on="handbook-dev+kb-dev",
)  # fmt: skip


@dataclass(frozen=True)
class Answerability:
    answerable: bool
    reason: str | None  # why not: "no_sources", "unknown_term", "weak_evidence"
    probability: float
    features: dict[str, float] = field(default_factory=dict)
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
        names: Callable[[str], set[str]],
        vectors: SentenceVectors,
        model: AnswerabilityModel = SHIPPED_MODEL,
    ) -> None:
        """`term_counts(collection, query)`: chunk frequency per query term and the chunk count;
        `texts_with_terms(collection, query)`: the texts of the chunks that match `query` best;
        `names(collection)`: the lower-case words of its documents' names and titles."""
        self.analyzer = analyzer
        self.tokenize = tokenize
        self.term_counts = term_counts
        self.texts_with_terms = texts_with_terms
        self.names = names
        self.vectors = vectors
        self.model = model

    def unknown_terms(self, collection: str, question: str, counts: dict[str, int]) -> list[str]:
        unknown = self._unknown_terms(collection, question, counts)
        if unknown:  # rare: read the documents' names only then
            names = self.names(collection)
            unknown = [t for t in unknown if t not in names]
        return unknown

    def _unknown_terms(self, collection: str, question: str, counts: dict[str, int]) -> list[str]:
        unknown: list[str] = []
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

    def features(self, collection: str, question: str, retrieval: Retrieval) -> tuple[dict[str, float], list[str]]:
        """The model's inputs for this question and what retrieval found, and the unknown terms."""
        hits = retrieval.hits
        counts, chunks = self.term_counts(collection, question)
        coverage = focus = 0.0
        if counts:
            idf = {t: math.log1p((chunks - df + 0.5) / (df + 0.5)) for t, df in counts.items()}
            total = sum(idf.values()) or 1.0
            per_hit = [set(self.analyzer.terms(h.text)) for h in hits]
            found = set().union(*per_hit)
            coverage = sum(v for t, v in idf.items() if t in found) / total
            focus = max(sum(v for t, v in idf.items() if t in terms) / total for terms in per_hit)
        unknown = self.unknown_terms(collection, question, counts) if counts else []
        quotes = [s.scored for s in source_sentences(hits[:SENTENCE_SOURCES]) if is_prose(s.quote)]
        similarity = self.vectors.similarities(self.vectors.question(question), quotes)
        best = float(similarity.max()) if len(similarity) else 0.0
        margin = best - float(statistics.median(similarity.tolist())) if len(similarity) else 0.0
        features = {
            "sentence_similarity": best,
            "sentence_margin": margin,
            "chunk_similarity": float(retrieval.best_similarity),
            "coverage": coverage,
            "focus": focus,
            "unknown_term": float(bool(unknown)),
            "agreement": float(_agree(retrieval)),
        }
        return {k: round(v, 4) for k, v in features.items()}, unknown

    def assess(self, collection: str, question: str, retrieval: Retrieval) -> Answerability:
        if not retrieval.hits:
            return Answerability(False, "no_sources", 0.0)
        features, unknown = self.features(collection, question, retrieval)
        probability = self.model.probability(features)
        answerable = probability >= self.model.threshold
        reason = None if answerable else ("unknown_term" if unknown else "weak_evidence")
        return Answerability(answerable, reason, round(probability, 4), features, unknown)


def document_names(first_chunks: Sequence[Chunk]) -> set[str]:
    """Lower-case words a user may use to name a document: its path and file name, whole ("security_policy")
    and in parts, and the words of its first line (its title, usually)."""
    names: set[str] = set()
    for chunk in first_chunks:
        for name in (chunk.document_id, str(chunk.metadata.get("filename", ""))):
            parts = re.split(r"[/\\]", name.lower())  # "policies", "security_policy.pdf"
            names.update(parts)
            names.update(Path(part).stem for part in parts)
            names.update(_NAME_PART.findall(name.lower()))
        title = next((line for line in chunk.text.splitlines() if line.strip()), "")
        names.update(WORD.findall(normalize(title).lower()))
    return names


def _agree(retrieval: Retrieval) -> bool:
    """The best dense candidate is among the best keyword candidates: both kinds of evidence point to it."""
    dense = [c for c in retrieval.candidates if c.dense_score is not None]
    if not dense:
        return False
    best = max(dense, key=lambda c: c.dense_score or 0.0)
    keyword = sorted((c for c in retrieval.candidates if c.keyword_score), key=lambda c: c.keyword_score or 0.0)
    return any(c is best for c in keyword[-AGREEMENT_DEPTH:])
