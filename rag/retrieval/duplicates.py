"""Near-duplicate chunks among the first results: one source, not two that say the same.

Manuals repeat themselves (the same option for `R CMD` and for `R`, one paragraph in two chapters): both
copies rank together, and the answer then cites whichever came first. Two chunks are near-duplicates when
their word 3-shingles overlap by Jaccard >= DUPLICATE_JACCARD; of the two, the one whose document name and
headings share more words with the question keeps the better place, and the other is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.retrieval.rerank import Candidate

DUPLICATE_JACCARD = 0.8
WINDOW = 10  # how many of the first results are compared (45 pairs: about 1-2 ms of CPU)
_WORD = re.compile(r"\w+")


def shingles(text: str) -> frozenset[tuple[str, ...]]:
    """The text's word 3-shingles (its words alone when it has fewer than three)."""
    words = _WORD.findall(text.lower())
    if len(words) < 3:
        return frozenset([tuple(words)]) if words else frozenset()
    return frozenset(zip(words, words[1:], words[2:]))  # noqa: B905 - the shorter lists end the shingles


def jaccard(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    if not a or not b or min(len(a), len(b)) < DUPLICATE_JACCARD * max(len(a), len(b)):
        return 0.0  # sizes this far apart cannot reach the threshold: no intersection needed
    common = len(a & b)
    return common / (len(a) + len(b) - common)


def heading_match(candidate: Candidate, query_terms: set[str], terms: Callable[[str], list[str]]) -> int:
    """How many of the question's terms the chunk's document name and headings hold."""
    label = " ".join(str(candidate.metadata.get(key) or "") for key in ("context", "section", "filename"))
    return len(query_terms & set(terms(label)))


def collapse(
    ranked: Sequence[tuple[Candidate, float]], query_terms: set[str], terms: Callable[[str], list[str]]
) -> list[tuple[Candidate, float]]:
    """`ranked` with near-duplicates within the first WINDOW merged: each group keeps the best place and score,
    held by its member whose headings match the question best (the higher-ranked one on a tie)."""
    head, tail = list(ranked[:WINDOW]), list(ranked[WINDOW:])
    keys = [shingles(c.text) for c, _ in head]
    kept: list[tuple[Candidate, float]] = []
    kept_keys: list[frozenset[tuple[str, ...]]] = []
    for (candidate, score), key in zip(head, keys, strict=True):
        twin = next((i for i, other in enumerate(kept_keys) if jaccard(key, other) >= DUPLICATE_JACCARD), None)
        if twin is None:
            kept.append((candidate, score))
            kept_keys.append(key)
            continue
        holder, place_score = kept[twin]
        if heading_match(candidate, query_terms, terms) > heading_match(holder, query_terms, terms):
            kept[twin] = (candidate, place_score)
            kept_keys[twin] = key
    return kept + tail
