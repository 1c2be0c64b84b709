"""Sentence spans with character offsets, for answers and for source chunks.

Written by hand because the checker and the extractive answerer need exact character ranges into the
original text (to report quote spans and to move `[n]` markers), over text that is often not prose:
PDF lines, option lists, code. NLTK's punkt gives spans too, but it merges list items and option
tables into one "sentence" and is ~10x slower per chunk; a small rule set is predictable and fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.text.tables import find_tables, read_row, row_lines

# Words whose trailing dot does not end a sentence.
_ABBREVIATIONS = frozenset(
    "e.g i.e etc vs cf fig figs no nos eq eqs sec ch p pp vol ed approx resp incl dr mr mrs ms st al"
    " jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
# A sentence ends at . ! ? (plus closing quotes/brackets and any [n] markers) before whitespace, or at
# a line break that starts a list item or follows a line with no end punctuation and a blank line.
_END = re.compile(r"[.!?]+[\"'”’)\]]*(?:\s*\[\d+\])*(?=\s|$)")
_BREAK = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*•]\s|\d+[.)]\s))")
_MIN_CHARS = 3


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the '.' at `dot` closes an abbreviation or an initial, not a sentence."""
    word = re.search(r"([A-Za-z][A-Za-z.]*)$", text[:dot])
    if not word:
        return False
    token = word.group(1).lower().rstrip(".")
    return token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of `text` as (start, end, text) with surrounding whitespace trimmed."""
    cuts = {0, len(text)}
    for match in _BREAK.finditer(text):
        cuts.add(match.start())
    for match in _END.finditer(text):
        first = match.group(0)[0]
        if first == "." and match.group(0).startswith(".") and _is_abbreviation(text, match.start()):
            continue
        following = text[match.end() :].lstrip()
        # "3.5", "v1.2" and "file.txt" never match (no whitespace after the dot); a lower-case start
        # after "." is still a new sentence in answers written by small models, so no case rule.
        if following[:1] and following[0] in ",;:)":
            continue
        cuts.add(match.end())
    for table in find_tables(text):  # a table row is a sentence of its own, whatever punctuation its cells hold
        cuts = {cut for cut in cuts if not table.start < cut < table.end} | {table.start, table.end}
        cuts.update(m.start() + table.start + 1 for m in re.finditer("\n", text[table.start : table.end]))
    sentences = []
    ordered = sorted(cuts)
    for start, end in zip(ordered, ordered[1:], strict=False):
        piece = text[start:end]
        stripped = piece.strip()
        if len(stripped) < _MIN_CHARS:
            continue
        offset = start + (len(piece) - len(piece.lstrip()))
        sentences.append(Sentence(offset, offset + len(stripped), stripped))
    return sentences


def readings(text: str, sentences: list[Sentence]) -> list[str]:
    """Each sentence as a reader takes it in: a table row as "Header: cell; Header: cell", a table's header
    and separator rows as "" (they say nothing alone), any other sentence as it is."""
    tables = find_tables(text)
    if not tables:
        return [s.text for s in sentences]
    rows: dict[int, str] = {}
    heads: set[int] = set()
    for table in tables:
        heads.update(s.start for s in sentences if table.start <= s.start < table.body_start)
        for start, end in row_lines(text, table):
            line = text[start:end]
            rows[start + len(line) - len(line.lstrip())] = read_row(table.columns, line)
    return ["" if s.start in heads else rows.get(s.start, s.text) for s in sentences]
