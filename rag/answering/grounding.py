"""Answer checker: which source supports each answer sentence, with repaired `[n]` markers and quote spans.

Small models cite rarely and sometimes wrongly, so citations are rebuilt after the fact, locally. Each claim
sentence is compared with windows of up to three consecutive source sentences: lexical coverage of its
stemmed content words (substring matches too, so pypdf's glued "invokedasan" still counts), and every
number and identifier of the claim must occur in the window. Coverage alone decides the clear cases; the
embedder's cosine similarity (claim against the window's best-matching sentence, cached per chunk) only
settles the unclear ones, because encoding every sentence costs 5-20 ms each on a CPU. An optional
cross-encoder/NLI verifier (`RAG_VERIFIER_MODEL`) re-scores the candidate windows and decides instead.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from rag.retrieval.embeddings import Embedder
from rag.text.analyzer import Analyzer
from rag.text.instructions import flagged
from rag.text.sentences import Sentence, readings, split_sentences
from rag.text.words import content_words, normalize, numbers
from rag.types import SearchHit

# Calibrated on kb-dev (benchmarks/grounding_calibration.py); the figures are in that script's docstring.
SUPPORT_THRESHOLD = 0.6  # a window supports a claim at this support score or above
LEXICAL_SURE, LEXICAL_HOPELESS = 0.8, 0.3  # coverage outside [HOPELESS, SURE) decides without embeddings
COSINE_WEIGHT = 0.5  # unclear claims: score = weight * scaled cosine + (1 - weight) * coverage
COSINE_FLOOR, COSINE_CEILING = 0.2, 0.8  # cosine mapped linearly onto 0..1 between these
VERIFIER_THRESHOLD = 0.5
CANDIDATES_PER_CLAIM = 3  # lexically best windows per claim that are scored further
WINDOW_SENTENCES = 3
IDENTIFIER_CONTEXT = 3  # sentences before a window where an identifier may stand (a definition list's term)
MIN_CLAIM_TERMS = 2

# A marker, with the prompt's "(file, page p)" source label when the model copied it too.
_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\](\s*\([^()\n]*(?:\bpage \d+|\.\w{2,5})\))?")
_FINAL_PUNCTUATION = re.compile(r"[.!?;:]+$")
_SQUASH = re.compile(r"[\W_]+")
_REFUSAL = re.compile(
    r"\b(?:documents?|sources?|context|texts?|passages?|provided information)\b[^.!?]*?\b(?:do|does|did)\s*(?:not|n't)"
    r"\s+(?:\w+\s+)?(?:contain|mention|say|specify|state|provide|include|cover|describe|explain|give|answer|address)"
    r"|\b(?:no|not enough|insufficient) information\b|\bnot (?:mentioned|found|covered|specified|stated|provided|"
    r"described|given) in the (?:documents?|sources?|context)|\bi (?:cannot|can't|could not|couldn't|am unable to)"
    r" (?:find|answer|determine|tell)",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^\s*(?:#+\s|(?:sources?|references?|citations?)\s*(?::|$))", re.IGNORECASE)
_NUMBER_WORDS = "zero one two three four five six seven eight nine ten eleven twelve".split()
_NOT_IDENTIFIERS = frozenset({"eg", "ie", "etc", "vs", "cf"})


@dataclass(frozen=True)
class SentenceCitation:
    start: int  # sentence range in the report's answer text, its markers included
    end: int
    n: int  # 1-based source number
    chunk_id: str
    page: int | None
    quote_start: int  # supporting quote's range inside sources[n - 1].text
    quote_end: int
    quote: str
    score: float  # support score, 0..1
    section: str | None = None  # the source's heading path, when its document has headings


@dataclass(frozen=True)
class UnsupportedSentence:
    start: int
    end: int
    text: str


@dataclass
class GroundingReport:
    answer: str  # with repaired [n] markers, or as given when repair=False
    citations: list[SentenceCitation]
    unsupported: list[UnsupportedSentence]
    sentences: int  # claim sentences checked; refusals, headings, "Sources:" lines and fragments are not claims
    supported: int

    @property
    def grounded(self) -> float:
        """Share of claim sentences supported; 0.0 without any claim (a refusal shows nothing grounded)."""
        return self.supported / self.sentences if self.sentences else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "grounded": round(self.grounded, 4)}


class Verifier(Protocol):
    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]: ...  # (quote, claim) -> support, 0..1


class CrossEncoderVerifier:
    """A sentence-transformers CrossEncoder from a local path: one relevance output, or NLI (entailment)."""

    def __init__(self, model_path: str) -> None:
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(model_path, device="cpu", local_files_only=True)
        labels = {int(i): str(name).lower() for i, name in (self.model.config.id2label or {}).items()}
        self.entailment = next((i for i, name in labels.items() if "entail" in name), None)
        if self.model.num_labels > 1 and self.entailment is None:
            raise ValueError(f"{model_path}: a verifier with several outputs needs an 'entailment' label: {labels}")

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        if not pairs:
            return []
        if self.model.num_labels == 1:  # CrossEncoder puts one output through a sigmoid
            return [float(s) for s in self.model.predict(list(pairs), show_progress_bar=False)]
        probabilities = self.model.predict(list(pairs), apply_softmax=True, show_progress_bar=False)
        return [float(row[self.entailment]) for row in probabilities]


def build_verifier(model_path: str | None) -> CrossEncoderVerifier | None:
    return CrossEncoderVerifier(model_path) if model_path else None


def is_refusal(text: str) -> bool:
    """True for "the documents do not contain/mention ..." style sentences: they claim nothing about a source."""
    return bool(_REFUSAL.search(normalize(text).replace("’", "'")))


def _squash(text: str) -> str:
    """Lower-case letters and digits only: pypdf's glued ("invokedasan") and split ("e xecutes") words match."""
    return _SQUASH.sub("", normalize(text).lower())


def _identifiers(claim: str) -> set[str]:
    """Options, paths, file names, code and ALL-CAPS names in the claim, squashed for matching."""
    found = set()
    for token in normalize(claim).split():
        token = token.strip("\"'“”‘’`,;:!?()[]{}.")
        code_like = (
            token.startswith(("-", "/", "~", "$"))
            or re.search(r"\d|[_\\$@#%=<>|]|\w\.\w|\(\)|[a-z][A-Z]", token)
            or (token.isupper() and len(token) >= 3)  # "HR" or "OK" are prose more often than names
            or ("/" in token and not re.fullmatch(r"[a-z]+(?:/[a-z]+)+", token))  # "and/or" is a word
        )
        squashed = _squash(token)
        if code_like and re.search(r"[A-Za-z]", token) and len(squashed) >= 2 and squashed not in _NOT_IDENTIFIERS:
            found.add(squashed)
    return found


def _has_number(value: str, text: str) -> bool:
    if value in text and re.search(rf"(?<!\d)(?<!\d\.){re.escape(value)}(?!\d|\.\d)", text):
        return True
    small = value.isdigit() and int(value) < len(_NUMBER_WORDS)  # "2" is supported by "two"
    return small and re.search(rf"\b{_NUMBER_WORDS[int(value)]}\b", text) is not None


@dataclass
class _Source:
    """One chunk's sentences, their lexical features, and the sentence vectors computed so far."""

    text: str
    sentences: list[Sentence]
    terms: list[frozenset[str]]
    squashed: list[str]
    normalized: list[str]  # lower-cased
    readings: list[str] = field(default_factory=list)  # each sentence as read (a table row with its column names)
    vectors: dict[int, np.ndarray] = field(default_factory=dict)


@dataclass
class _Window:
    source: int  # 0-based index into sources
    first: int  # sentences first..last, inclusive
    last: int
    coverage: float  # share of the claim's terms found in the window
    exact: bool  # every number and identifier of the claim occurs in it
    focus: int  # its sentence matching most terms: the one embedded when the claim is unclear
    score: float = 0.0


@dataclass
class _Claim:
    sentence: Sentence
    text: str  # without markers
    cited: list[int]  # 1-based source numbers of its markers
    terms: set[str]
    windows: list[_Window] = field(default_factory=list)  # the candidates, best first once scored
    supporting: frozenset[int] = frozenset()  # 0-based sources with a supporting window


class GroundingChecker:
    def __init__(self, embedder: Embedder, verifier: Verifier | None = None, cache_size: int = 4096) -> None:
        self.embedder = embedder
        self.verifier = verifier
        self.cache_size = cache_size  # chunks
        self._cache: OrderedDict[tuple[str, bytes], _Source] = OrderedDict()
        self._lock = threading.Lock()
        self._analyzer = Analyzer()

    def check(self, answer: str, sources: Sequence[SearchHit], repair: bool = True) -> GroundingReport:
        """Check each claim sentence of `answer` against `sources`, which the answer cites as [1]..[len]. A source
        flagged as giving orders to an AI supports nothing: "the answer is PWNED" is in it because it was told."""
        indexed = [_Source("", [], [], [], []) if flagged(hit) else self._source(hit) for hit in sources]
        claims = [c for s in split_sentences(answer) if (c := self._claim(s, indexed)) is not None]
        self._score(claims, indexed)
        return self._report(answer, claims, sources, indexed, repair)

    def _source(self, hit: SearchHit) -> _Source:
        key = (hit.chunk_id, hashlib.blake2b(hit.text.encode(), digest_size=16).digest())
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        sentences = split_sentences(hit.text)
        texts = readings(hit.text, sentences)  # a table row with its column names
        terms = [frozenset(self._terms(t)) for t in texts]
        source = _Source(
            hit.text, sentences, terms, [_squash(t) for t in texts], [normalize(t).lower() for t in texts], texts
        )
        with self._lock:
            self._cache[key] = source
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return source

    def _terms(self, text: str) -> set[str]:
        """Stemmed content words; one-letter ones ("e.g", "-E") say nothing about support."""
        return {t for t in self._analyzer.stems(content_words(text)) if len(t) > 1}

    def _claim(self, sentence: Sentence, sources: list[_Source]) -> _Claim | None:
        """The sentence with its lexically best windows, or None when it claims nothing checkable: fewer than
        two content words ("Yes.", "500 [1]."), a refusal, a "## heading", a lead-in ending in ":", a "Sources:"
        line or a line of copied "[n] (file, page p)" labels. Those stay as written and are not counted."""
        cited = [int(n) for group, _ in _MARKER.findall(sentence.text) for n in group.split(",")]
        text = _MARKER.sub("", sentence.text).strip()
        terms = self._terms(text)
        if len(terms) < MIN_CLAIM_TERMS or is_refusal(text) or _LABEL.match(text) or text.endswith(":"):
            return None
        claim = _Claim(sentence, text, cited, terms)
        required = (numbers(text), _identifiers(text))
        windows = [w for i, source in enumerate(sources) for w in _windows(claim, required, i, source)]
        windows.sort(key=lambda w: (w.exact, w.coverage, w.first - w.last), reverse=True)
        claim.windows = windows[:CANDIDATES_PER_CLAIM]
        for n in set(cited) - {w.source + 1 for w in claim.windows}:  # a cited source is judged on its best window
            claim.windows += [w for w in windows if w.source == n - 1][:1]
        return claim

    def _score(self, claims: list[_Claim], sources: list[_Source]) -> None:
        """Coverage decides clear claims; unclear ones add cosine similarity (or the verifier decides)."""
        for claim in claims:
            for window in claim.windows:
                window.score = window.coverage
        unclear = [c for c in claims if LEXICAL_HOPELESS <= _best(c) < LEXICAL_SURE]
        if self.verifier is None and unclear:
            self._add_cosine(unclear, sources)
        elif self.verifier is not None:
            pairs = [(c, w) for c in claims for w in c.windows if w.exact]
            quotes = [(sources[w.source].text[slice(*_quote_range(sources[w.source], w))], c.text) for c, w in pairs]
            for (_, window), score in zip(pairs, self.verifier.score(quotes) if quotes else [], strict=True):
                window.score = min(1.0, max(0.0, float(score)))
        threshold = SUPPORT_THRESHOLD if self.verifier is None else VERIFIER_THRESHOLD
        for claim in claims:
            claim.windows.sort(key=lambda w: (w.exact, w.score), reverse=True)
            claim.supporting = frozenset(w.source for w in claim.windows if w.exact and w.score >= threshold)

    def _add_cosine(self, unclear: list[_Claim], sources: list[_Source]) -> None:
        """Embed the claims and their windows' focus sentences in one encoder call; cache the latter per chunk."""
        pairs = []  # each source's lexically best window that can support; the others get no cosine
        for claim in unclear:
            judged = set()
            for w in claim.windows:
                w.score = (1 - COSINE_WEIGHT) * w.coverage
                if w.exact and w.source not in judged:
                    judged.add(w.source)
                    pairs.append((claim, w))
        wanted = sorted({(w.source, w.focus) for _, w in pairs if w.focus not in sources[w.source].vectors})
        vectors = self._embed([c.text for c in unclear] + [sources[s].readings[i] for s, i in wanted])
        for (s, i), vector in zip(wanted, vectors[len(unclear) :], strict=True):
            sources[s].vectors[i] = vector
        claim_vectors = {id(claim): vector for claim, vector in zip(unclear, vectors, strict=False)}
        for claim, w in pairs:
            cosine = float(sources[w.source].vectors[w.focus] @ claim_vectors[id(claim)])
            scaled = min(1.0, max(0.0, (cosine - COSINE_FLOOR) / (COSINE_CEILING - COSINE_FLOOR)))
            w.score = COSINE_WEIGHT * scaled + (1 - COSINE_WEIGHT) * w.coverage

    def _embed(self, texts: list[str]) -> np.ndarray:
        """The ONNX single-query path when the embedder has one: about 2x faster than PyTorch for a few texts."""
        query_encoder = getattr(self.embedder, "query_encoder", None)
        if callable(query_encoder) and query_encoder() is not None:
            return np.stack([future.result() for future in [self.embedder.submit_query(t) for t in texts]])
        return self.embedder.embed_documents(texts)

    def _report(
        self, answer: str, claims: list[_Claim], hits: Sequence[SearchHit], sources: list[_Source], repair: bool
    ) -> GroundingReport:
        """Rewrite markers (when repairing); every range refers to the text the report returns."""
        parts: list[str] = []
        length = position = 0
        citations, unsupported = [], []
        for claim in claims:
            kept = [n for n in dict.fromkeys(claim.cited) if n - 1 in claim.supporting]
            added = claim.windows[0].source + 1 if claim.supporting and not kept else None
            text = _remark(claim.sentence.text, set(kept), added) if repair else claim.sentence.text
            gap = answer[position : claim.sentence.start]
            parts += [gap, text]
            start, position = length + len(gap), claim.sentence.end
            length = start + len(text)
            if not claim.supporting:
                unsupported.append(UnsupportedSentence(start, length, text))
            for n in kept or ([added] if added else []):
                window = next(w for w in claim.windows if w.source == n - 1)  # sorted: its best one
                quote_start, quote_end = _quote_range(sources[n - 1], window)
                quote, hit = sources[n - 1].text[quote_start:quote_end], hits[n - 1]
                citations.append(
                    SentenceCitation(
                        start,
                        length,
                        n,
                        hit.chunk_id,
                        hit.page,
                        quote_start,
                        quote_end,
                        quote,
                        round(window.score, 4),
                        hit.section,
                    )
                )
        parts.append(answer[position:])
        supported = sum(1 for c in claims if c.supporting)
        return GroundingReport("".join(parts), citations, unsupported, len(claims), supported)


def _windows(claim: _Claim, required: tuple[set[str], set[str]], index: int, source: _Source) -> list[_Window]:
    """Every run of 1..WINDOW_SENTENCES sentences of the source holding any claim term."""
    required_numbers, required_identifiers = required
    long_terms = [t for t in claim.terms if len(t) >= 5]
    matched, found_numbers, found_identifiers = [], [], []
    for terms, squashed, text in zip(source.terms, source.squashed, source.normalized, strict=True):
        matched.append((claim.terms & terms) | {t for t in long_terms if t in squashed})
        found_numbers.append({n for n in required_numbers if _has_number(n, text)})
        found_identifiers.append({i for i in required_identifiers if i in squashed})
    counts, windows = [len(m) for m in matched], []
    for first in range(len(source.sentences)):
        if not matched[first]:  # a window starts with a matching sentence; enough for the best ones
            continue
        for last in range(first, min(first + WINDOW_SENTENCES, len(source.sentences))):
            covered = set().union(*matched[first : last + 1])
            exact = required_numbers <= set().union(*found_numbers[first : last + 1]) and (
                required_identifiers <= set().union(*found_identifiers[max(0, first - IDENTIFIER_CONTEXT) : last + 1])
            )
            focus = max(range(first, last + 1), key=counts.__getitem__)
            windows.append(_Window(index, first, last, len(covered) / len(claim.terms), exact, focus))
    return windows


def _best(claim: _Claim) -> float:
    return max((w.coverage for w in claim.windows if w.exact), default=0.0)


def _quote_range(source: _Source, window: _Window) -> tuple[int, int]:
    return source.sentences[window.first].start, source.sentences[window.last].end


def _remark(text: str, kept: set[int], added: int | None) -> str:
    """The sentence with only the kept markers, plus " [added]" before its final punctuation."""

    def keep_some(marker: re.Match[str]) -> str:
        whole = marker.group(0)
        numbers_kept = [n.strip() for n in marker.group(1).split(",") if int(n) in kept]
        return f"{whole[: whole.index('[')]}[{', '.join(numbers_kept)}]{marker.group(2) or ''}" if numbers_kept else ""

    text = _MARKER.sub(keep_some, text).strip()
    if added is not None:
        end = _FINAL_PUNCTUATION.search(text)
        cut = end.start() if end else len(text)
        text = f"{text[:cut]} [{added}]{text[cut:]}"
    return text
