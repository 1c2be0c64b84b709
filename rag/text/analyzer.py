"""The analyzer: lower-case word tokens, Snowball stems and English stop words, for BM25 and for the answer checks."""

from __future__ import annotations

import re
import threading

WORD = re.compile(r"\w+", re.UNICODE)  # a word: the one definition every text step shares

# A general English list (close to the ones Lucene and scikit-learn ship), nothing domain-specific.
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her
    here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we
    were what when where which while who whom why will with would you your yours yourself yourselves""".split()
)


class Analyzer:
    """Lower-case word tokens, Snowball-stemmed (PyStemmer, C), with a cache: vocabularies are small."""

    def __init__(self) -> None:
        import Stemmer

        self._stemmer = Stemmer.Stemmer("english")
        self._stems: dict[str, str] = {}
        self._lock = threading.Lock()

    def stems(self, words: list[str]) -> list[str]:
        return self._stem_all(words)

    def _stem_all(self, words: list[str]) -> list[str]:
        stems = self._stems
        new = [w for w in set(words) if w not in stems]
        if new:
            with self._lock:  # one analyzer serves every collection's index; a Stemmer is not thread-safe
                stems.update(zip(new, self._stemmer.stemWords(new), strict=True))
        return [stems[w] for w in words]

    def terms(self, text: str) -> list[str]:
        return self._stem_all(WORD.findall(text.lower()))

    def query_terms(self, text: str) -> list[str]:
        words = WORD.findall(text.lower())
        content = [w for w in words if w not in STOP_WORDS]
        return list(dict.fromkeys(self._stem_all(content or words)))
