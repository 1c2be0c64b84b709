"""Questions grouped by topic: what the collection's users asked and did not get answered, as a list of
documents to write.

Greedy leader clustering on the embedder's normalised vectors, hand-written rather than taken from
scikit-learn (not a dependency): it is a dozen lines, deterministic, linear in memory (no n×n distance
matrix for thousands of questions), and a topic's centroid is what a new question is compared with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# A question this close (cosine of MiniLM vectors) to a topic's centre asks about it. Measured on 12 office
# questions in 6 topics (parking, canteen, VPN, dress code, expenses): pairs on one topic score 0.44-0.78
# (dress code / jeans: 0.34), pairs on different topics at most 0.34; 0.35-0.45 all group them alike.
SAME_TOPIC = 0.4
MAX_EXAMPLES = 5


@dataclass
class Topic:
    count: int
    examples: list[str]  # the questions nearest the topic's centre first, distinct, at most MAX_EXAMPLES
    members: list[int] = field(default_factory=list, repr=False)


def group_by_topic(questions: Sequence[str], vectors: np.ndarray, threshold: float = SAME_TOPIC) -> list[Topic]:
    """Topics of `questions` (rows of `vectors`, normalised), the most asked first."""
    sums: list[np.ndarray] = []
    members: list[list[int]] = []
    for i, vector in enumerate(vectors):
        if sums:
            centres = np.stack(sums)
            centres /= np.linalg.norm(centres, axis=1, keepdims=True)
            similarity = centres @ vector
            best = int(np.argmax(similarity))
            if similarity[best] >= threshold:
                sums[best] = sums[best] + vector
                members[best].append(i)
                continue
        sums.append(vector.astype(np.float32).copy())
        members.append([i])
    topics = []
    for total, group in zip(sums, members, strict=True):
        centre = total / np.linalg.norm(total)
        nearest = sorted(group, key=lambda i: -float(vectors[i] @ centre))
        examples = list(dict.fromkeys(questions[i].strip() for i in nearest))[:MAX_EXAMPLES]
        topics.append(Topic(len(group), examples, group))
    topics.sort(key=lambda t: (-t.count, t.examples[0].lower()))
    return topics
