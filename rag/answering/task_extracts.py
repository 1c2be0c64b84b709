"""Quoted answers to task requests: a document's most representative sentences, and a list of steps.

Both quote source text, so neither can invent, and both are cheap: a summary embeds only the sentences
of a dozen chunks (the document's centroid comes from the stored chunk vectors), a list is found by
its line shapes. The quotes become "- quote [n]" lines, which the grounding checker then verifies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.answering.sentences import clean_quote
from rag.text.analyzer import Analyzer
from rag.text.sentences import split_sentences
from rag.text.words import content_words
from rag.types import SearchHit

SUMMARY_SENTENCES = 5
SUMMARY_CHARS = 1200
_OPENING_BONUS = 0.1
_BALANCE = 0.7  # maximal marginal relevance: closeness to what the text is about, minus repeating a pick
_MIN_WORDS, _MAX_WORDS = 6, 70
_HEADING_WORDS = 9  # a leading line this short, without end punctuation, is a heading or page furniture
_SENTENCE_END = re.compile(r"[.!][\"'”’)\]]*$")
_BULLET = re.compile(r"^(?:[-*•▪◦]\s+|\d{1,2}[.)]\s+)")
_WORD = re.compile(r"\w+")
_RULE = re.compile(r"[-=_*#~]{3,}")

_ITEM = re.compile(r"^\s*(?:[-*•▪◦]\s+|\d{1,2}[.)]\s+|step\s+\d+\b)", re.IGNORECASE)
_NUMBERED = re.compile(r"^\d{1,2}[.)]\s")
_END_PUNCTUATION = re.compile(r"[.!?:;]$")
_STEP_WORDS = re.compile(r"\b(?:steps?|procedures?|process|follow|first|then|finally|how\s+to)\b", re.IGNORECASE)
MAX_STEPS = 12
_WRAP_CHARS = 60
_CONTEXT_LINES = 2  # lines before a list that say what it is about
_FURNITURE_LINES = 2  # header/footer lines allowed between a list's end and its chunk's end (PDF pages)


@dataclass(frozen=True)
class Quote:
    source: int  # 0-based index into the hits it was taken from
    start: int  # its range in that hit's text
    end: int
    text: str
    opens_section: bool = False  # the first sentence after a heading (or of the text): says what the section is


def prose_sentences(hits: Sequence[SearchHit]) -> list[Quote]:
    """Every distinct sentence of the hits that reads as prose, without a heading or bullet glued in front."""
    found: list[Quote] = []
    seen: set[str] = set()
    after_heading = True
    for index, hit in enumerate(hits):
        for sentence in split_sentences(hit.text):
            start, end = _without_heading(hit.text, sentence.start, sentence.end)
            text = clean_quote(hit.text[start:end])
            words = len(text.split())
            if not _SENTENCE_END.search(text) and len(_WORD.findall(text)) <= _HEADING_WORDS:
                after_heading = True
                continue
            opens = after_heading or start > sentence.start and not _BULLET.match(hit.text, sentence.start)
            after_heading = False
            if text in seen or not _MIN_WORDS <= words <= _MAX_WORDS or not _SENTENCE_END.search(text):
                continue
            seen.add(text)
            found.append(Quote(index, start, end, text, opens))
    return found


def _without_heading(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence without the heading lines the splitter left in front of it ("1. Purpose and scope\\nThis ...")
    and without its list bullet."""
    while True:
        newline = text.find("\n", start, end)
        if newline < 0:
            break
        first, rest = text[start:newline].strip(), text[newline + 1 : end].lstrip()
        rule = _RULE.fullmatch(first) is not None  # "-----" under a plain-text heading
        heading = not _END_PUNCTUATION.search(first) and len(_WORD.findall(first)) <= _HEADING_WORDS
        if not rule and not (heading and (rest[:1].isupper() or rest[:1].isdigit() or _RULE.match(rest))):
            break
        start = end - len(rest)
    bullet = _BULLET.match(text, start)
    return (bullet.end() if bullet else start), end


def representative(quotes: Sequence[Quote], vectors: np.ndarray, anchor: np.ndarray, limit: int) -> list[Quote]:
    """Up to `limit` quotes close to `anchor` (a document's centroid, or a topic) and unlike each other
    (maximal marginal relevance), within SUMMARY_CHARS, in their order in the text. A section's opening
    sentence is preferred a little: writers put what a section is about first."""
    relevance = vectors @ anchor + _OPENING_BONUS * np.array([q.opens_section for q in quotes], dtype=float)
    chosen: list[int] = []
    length = 0
    while len(chosen) < limit:
        best, best_score = -1, -np.inf
        for i in range(len(quotes)):
            if i in chosen or length + len(quotes[i].text) > SUMMARY_CHARS:
                continue
            redundancy = max((float(vectors[i] @ vectors[j]) for j in chosen), default=0.0)
            score = _BALANCE * float(relevance[i]) - (1 - _BALANCE) * redundancy
            if score > best_score:
                best, best_score = i, score
        if best < 0:
            break
        chosen.append(best)
        length += len(quotes[best].text)
    return sorted((quotes[i] for i in chosen), key=lambda q: (q.source, q.start))


# --- lists of steps ----------------------------------------------------------------------------------------


@dataclass
class ListBlock:
    """Consecutive list items of one chunk, with the line that introduces them ("... in six steps:")."""

    lead: Quote | None
    items: list[Quote]
    reaches_end: bool  # nothing but page furniture after it: the list may go on in the next chunk
    context: str = ""  # the lines before it (a heading, an introduction): what the list is about

    @property
    def text(self) -> str:
        """What the block says, its introduction included, for matching it with a request."""
        return " ".join([self.context] + [item.text for item in self.items])


def list_blocks(text: str, source: int = 0) -> list[ListBlock]:
    """The list blocks of a chunk. A wrapped item (PDF lines) goes on while its long line lacks end punctuation,
    or while the next line is indented."""
    lines, offset = [], 0
    for line in text.splitlines(keepends=True):
        lines.append((offset, line.rstrip("\r\n")))
        offset += len(line)
    blocks: list[ListBlock] = []
    current: list[list[int]] = []  # [start, end] of each item
    lead: Quote | None = None
    previous_prose: tuple[int, str] | None = None
    before: list[str] = []
    context = ""
    for index, (start, line) in enumerate(lines):
        stripped = line.strip()
        if _ITEM.match(line) and (current or not _is_numbered_heading(stripped, lines[index + 1 :])):
            if not current:
                lead, context = _lead(previous_prose, source), clean_quote(" ".join(before[-_CONTEXT_LINES:]))
            first = start + len(line) - len(line.lstrip())
            current.append([first, start + len(line.rstrip())])
            continue
        if current and stripped and (line[:1].isspace() or _wraps(lines[index - 1][1])):
            current[-1][1] = start + len(line.rstrip())  # the item's wrapped line
            continue
        if current:
            rest = [ln.strip() for _, ln in lines[index:] if ln.strip()]
            blocks.append(_block(text, source, lead, current, _only_furniture(rest), context))
            current, before = [], []
        previous_prose = (start, line) if stripped else previous_prose
        before += [stripped] if stripped else []
    if current:
        blocks.append(_block(text, source, lead, current, True, context))
    return blocks


def _wraps(line: str) -> bool:
    """A long line without end punctuation goes on in the next one (PDF text); a short one ("1. Open the app")
    is a whole item."""
    return len(line.strip()) >= _WRAP_CHARS and not _END_PUNCTUATION.search(line.rstrip())


def _is_numbered_heading(line: str, after: list[tuple[int, str]]) -> bool:
    """A section heading above a paragraph ("5. Incident response"), not the first item of a list."""
    if not _NUMBERED.match(line) or _END_PUNCTUATION.search(line) or len(_WORD.findall(line)) > _HEADING_WORDS:
        return False
    following = next((text for _, text in after if text.strip()), "")
    return not _NUMBERED.match(following.strip())  # "4. Devices" above bullets, or above a paragraph


def _lead(previous: tuple[int, str] | None, source: int) -> Quote | None:
    if previous is None or not previous[1].rstrip().endswith(":"):
        return None
    start, line = previous
    first = start + len(line) - len(line.lstrip())
    return Quote(source, first, start + len(line.rstrip()), clean_quote(line))


def _block(
    text: str, source: int, lead: Quote | None, spans: list[list[int]], reaches_end: bool, context: str
) -> ListBlock:
    return ListBlock(lead, [Quote(source, s, e, clean_quote(text[s:e])) for s, e in spans], reaches_end, context)


def _only_furniture(lines: list[str]) -> bool:
    return len(lines) <= _FURNITURE_LINES and all(not _END_PUNCTUATION.search(line) for line in lines)


def continuation(text: str, source: int) -> ListBlock | None:
    """The list a chunk opens with, after at most a page header: the rest of a list the chunk before began."""
    blocks = list_blocks(text, source)
    if not blocks or blocks[0].lead is not None:
        return None
    before = [line for line in text[: blocks[0].items[0].start].splitlines() if line.strip()]
    return blocks[0] if _only_furniture(before) else None


def block_score(block: ListBlock, weights: dict[str, float], analyzer: Analyzer) -> tuple[float, float]:
    """The weighted share of the request's words in the block (its introduction counts), and a nudge for the
    wording of steps."""
    return coverage(block.text, weights, analyzer), 0.2 * bool(_STEP_WORDS.search(block.text))


def coverage(text: str, weights: dict[str, float], analyzer: Analyzer) -> float:
    """The share of the request's word weight (rare words weigh more) that `text` holds."""
    total = sum(weights.values())
    if not total:
        return 0.0
    terms = set(analyzer.stems(content_words(text)))
    return sum(w for term, w in weights.items() if term in terms) / total
