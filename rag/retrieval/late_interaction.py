"""Late interaction with the bi-encoder we ship: MaxSim over MiniLM's own token vectors (as ColBERT scores).

The first stage compares one vector per chunk with one per question, so a chunk about the right subject but
the wrong detail can outscore the one that holds the detail. Here each question token finds its most similar
token in a candidate, and the mean of those best matches is the candidate's late-interaction score. The
model was not trained for this (ColBERT's was), so the two orders are fused by reciprocal rank rather than
the first stage replaced, and nothing is fitted. It encodes each candidate again at query time: far over
the search budget, hence off by default (`RAG_SEARCH_STEPS=late-interaction`); token vectors of recent
candidates are kept (float16, bounded) so a repeated candidate is not encoded twice.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

LATE_WINDOW = 20  # first-stage results re-scored
RRF_K = 60  # reciprocal rank fusion's usual constant (Cormack et al.): no weight fitted to a dev set

TokenEncoder = Callable[[Sequence[str]], list[np.ndarray]]


def maxsim(question: np.ndarray, chunk: np.ndarray) -> float:
    """Mean over the question's token vectors of their best cosine with any of the chunk's (rows normalised)."""
    if not len(question) or not len(chunk):
        return 0.0
    return float((question @ chunk.T).max(axis=1).mean())


def fuse(order: Sequence[str], scores: dict[str, float]) -> list[str]:
    """The ids of `order` (the first stage's ranking) re-ordered by reciprocal rank fusion with `scores`."""
    late = sorted(order, key=lambda cid: scores[cid], reverse=True)
    late_rank = {cid: rank for rank, cid in enumerate(late)}
    fused = {cid: 1 / (RRF_K + rank) + 1 / (RRF_K + late_rank[cid]) for rank, cid in enumerate(order)}
    return sorted(order, key=lambda cid: fused[cid], reverse=True)  # stable: ties keep the first stage's order


class TokenVectors:
    """Token vectors of texts, encoded once each (an LRU keyed by the text's hash; thread-safe)."""

    def __init__(self, encode: TokenEncoder, size: int = 1024) -> None:
        self.encode = encode
        self.size = size
        self._kept: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, texts: Sequence[str]) -> list[np.ndarray]:
        keys = [hashlib.blake2b(t.encode(), digest_size=16).digest() for t in texts]
        with self._lock:
            found = {k: self._kept[k] for k in keys if k in self._kept}
            for k in found:
                self._kept.move_to_end(k)
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
        if missing:
            fresh = self.encode(list(missing.values()))
            with self._lock:
                for k, vectors in zip(missing, fresh, strict=True):
                    found[k] = self._kept[k] = vectors.astype(np.float16)
                while len(self._kept) > self.size:
                    self._kept.popitem(last=False)
        return [found[k].astype(np.float32) for k in keys]
