"""Requests for a task, not a fact: "summarize X", "what does X say about Y", "list the steps to X", "compare A and B".

Retrieval answers a fact; a task has no sentence that answers it, so these requests used to abstain. They
are recognised here by their English wording (nothing about one collection), and what they name is
resolved to a document by its file name or its title (the opening lines of its first chunk) when it
names one. `rag/answering/task_answers.py` serves them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

from rag.text.analyzer import STOP_WORDS, Analyzer
from rag.text.words import normalize

TaskKind = Literal["summary", "ask", "steps", "compare"]

_OF = r"(?:of|for|on|about)"
_SUMMARY_NOUN = r"(?:summary|overview|rundown|synopsis|gist|recap|outline|tl;?\s?dr)"
_SIZE = r"(?:(?:short|brief|quick|concise|high[- ]level|general|one[- ]paragraph|little)\s+)?"
_STEPS_LINK = (
    r"(?:to|for|of|in|on|when|after|if|involved\s+in|needed\s+to|required\s+to|necessary\s+to"
    r"|(?:(?:do|should|must|can)\s+(?:i|we|you)\s+)?(?:take|follow)\s+(?:to|for|when|after|if|in)?)"
)
_ASK_VERB = r"(?:say|says|state|states|tell\s+(?:me|us)|mention|write|specify|require|cover|recommend)"
_ABOUT = r"(?:about|on|regarding|concerning|for)"

# (kind, pattern, document_only). A `document_only` wording ("what's in X", "what does X say") is a task only
# when X names a document: "what's in the box?" is a question about a box. Each pattern must match the
# whole request (politeness and end punctuation removed).
# fmt: off
_PATTERNS: list[tuple[TaskKind, str, bool]] = [
    # "what does X say about Y", "according to X, Y": Y, answered from X alone
    ("ask", rf"what\s+(?:does|do|did)\s+(?P<x>.+?)\s+{_ASK_VERB}\s+{_ABOUT}\s+(?P<y>.+)", True),
    ("ask", rf"what\s+(?:is|'s)\s+(?:said|written|stated)\s+(?:in|by)\s+(?P<x>.+?)\s+{_ABOUT}\s+(?P<y>.+)", True),
    ("ask", r"according\s+to\s+(?P<x>[^,]+),\s*(?P<y>.+)", True),
    ("ask", r"(?P<y>.+?),?\s+according\s+to\s+(?P<x>.+)", True),
    # summaries
    ("summary", rf"(?:summari[sz]e|sum\s+up|recap)\s+what\s+(?P<x>.+?)\s+says?\s+{_ABOUT}\s+(?P<y>.+)", False),
    ("summary", r"(?:summari[sz]e|sum\s+up|recap|condense)\s+(?P<x>.+)", False),
    ("summary", r"sum\s+(?P<x>.+?)\s+up", False),
    ("summary", rf"(?:give|show|tell|write|make|provide|get)\s+(?:me\s+|us\s+)?(?:an?\s+|the\s+)?{_SIZE}"
                rf"{_SUMMARY_NOUN}\s+{_OF}\s+(?P<x>.+)", False),
    ("summary", rf"(?:an?\s+|the\s+)?{_SIZE}{_SUMMARY_NOUN}\s*(?:{_OF}|:|-)\s*(?P<x>.+)", False),
    ("summary", r"(?P<x>.+?)\s*[:,-]?\s+tl;?\s?dr", False),
    ("summary", rf"what(?:'s|\s+is)\s+the\s+(?:gist|summary|tl;?\s?dr|overview|main\s+idea)\s+{_OF}\s+(?P<x>.+)",
     False),
    ("summary", r"what\s+are\s+the\s+(?:main|key|most\s+important|important)\s+(?:points|takeaways|ideas|topics"
                r"|rules|messages|things)\s+(?:of|in|from)\s+(?P<x>.+)", False),
    ("summary", r"what(?:'s|\s+is)\s+in(?:side)?\s+(?P<x>.+)", True),
    ("summary", r"what\s+(?:does|do|did)\s+(?P<x>.+?)\s+(?:say|cover|contain|describe|discuss|explain"
                r"|talk\s+about|deal\s+with)", True),
    ("summary", r"what\s+(?:is|are)\s+(?P<x>.+?)\s+about", True),
    ("summary", r"(?:describe|tell\s+me\s+about|explain)\s+(?P<x>.+)", True),
    # steps
    ("steps", rf"(?:list|give|show|tell|walk)\s+(?:me\s+|us\s+)?(?:through\s+)?(?:all\s+)?(?:the\s+)?"
              rf"(?:\w+\s+)?steps\s+{_STEPS_LINK}\s*(?P<x>.+)", False),
    ("steps", rf"(?:what|which)\s+(?:are\s+)?(?:the\s+)?(?:\w+\s+)?steps\s+{_STEPS_LINK}\s*(?P<x>.+)", False),
    ("steps", r"how\s+(?:do|can|should|would|to)\s+(?:i\s+|we\s+|you\s+|one\s+)?(?P<x>.+?),?\s+step[- ]by[- ]step",
     False),
    ("steps", r"step[- ]by[- ]step(?:\s+(?:guide|instructions|procedure|process))?\s+(?:to|for|on|of)\s+"
              r"(?:how\s+to\s+)?(?P<x>.+)", False),
    ("steps", r"walk\s+me\s+through\s+(?:how\s+to\s+|the\s+(?:process|procedure|steps)\s+(?:of|for|to)\s+)?(?P<x>.+)",
     False),
    ("steps", r"what(?:'s|\s+is)\s+the\s+(?:process|procedure)\s+(?:to|for|of|when|after|if)\s+(?P<x>.+)", False),
    # comparisons
    ("compare", r"compare\s+(?P<x>.+?)\s+(?:and|with|to|against|vs\.?|versus)\s+(?P<y>.+)", False),
    ("compare", r"(?:what\s+(?:is|are)|what's|explain|list)\s+(?:the\s+)?(?:main\s+|key\s+)?differences?\s+between"
                r"\s+(?P<x>.+?)\s+and\s+(?P<y>.+)", False),
    ("compare", r"how\s+(?:does|do|is|are)\s+(?P<x>.+?)\s+(?:differ|different)\s+from\s+(?P<y>.+)", False),
    ("compare", r"how\s+(?:does|do)\s+(?P<x>.+?)\s+compare\s+(?:to|with|against)\s+(?P<y>.+)", False),
    ("compare", r"how\s+do\s+(?P<x>.+?)\s+and\s+(?P<y>.+?)\s+(?:differ|compare)", False),
    ("compare", r"(?:(?:what\s+(?:is|are)|what's)\s+(?:the\s+)?(?:difference\s+(?:in|between)\s+)?)?"
                r"(?P<x>[^,;]+?)\s+(?:vs\.?|versus)\s+(?P<y>[^,;]+)", False),
]
# fmt: on
_COMPILED = [(kind, re.compile(pattern, re.IGNORECASE), only) for kind, pattern, only in _PATTERNS]

_POLITE_START = re.compile(
    r"^(?:(?:hi|hey|hello|ok|okay|so|now)[,!]?\s+)?(?:please\s+)?(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?)?"
    r"(?:(?:i\s+(?:want|would\s+like|'d\s+like|need)|help\s+me)\s+(?:you\s+)?(?:to\s+)?)?",
    re.IGNORECASE,
)
_POLITE_END = re.compile(r"(?:[,\s]+(?:please|for\s+me|thanks|thank\s+you))+$", re.IGNORECASE)
# How the summary should look, not what it is of: "in 3 bullet points", "briefly", "in plain English".
_FORMAT_TAIL = re.compile(
    r"(?:[,\s]+(?:briefly|quickly|in\s+short|in\s+brief|in\s+a\s+nutshell|in\s+(?:plain|simple)\s+(?:english|words|terms)"
    r"|(?:in|as|with|using)\s+(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|a\s+few|a\s+couple\s+of|some)?"
    r"\s*(?:short\s+|brief\s+)?(?:bullet(?:\s*points?)?|bullets|sentences?|paragraphs?|words|lines|points)))+$",
    re.IGNORECASE,
)
_LEADING_PART = re.compile(
    r"^(?:(?:the|its)\s+)?(?:contents?|content|text|main\s+points|key\s+points|gist)\s+of\s+", re.IGNORECASE
)
_QUOTES = "\"'`“”‘’«» "
_PRONOUNS = frozenset("it this that these those them they he she him her one".split())
MAX_TARGET_WORDS = 14  # a document's name or a topic; longer "targets" are sentences, not names


@dataclass(frozen=True)
class TaskRequest:
    """What the request asks to be done, and what it names: `targets` is (X,) or, to compare, (A, B)."""

    kind: TaskKind
    targets: tuple[str, ...]
    about: str | None = None  # ask, or a summary of one subject within X: what is asked of X
    document_only: bool = False  # a task only when targets[0] names a document


def read_task(question: str) -> TaskRequest | None:
    """The task a request asks for, or None for an ordinary question (the normal answer path)."""
    text = " ".join(normalize(question).replace("’", "'").split()).strip().rstrip("?!. ")
    text = _POLITE_END.sub("", text)
    text = _POLITE_START.sub("", text, count=1).strip()
    for kind, pattern, document_only in _COMPILED:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        x = _clean_target(match.group("x"), strip_format=kind == "summary")
        y = _clean_target(match.group("y"), strip_format=kind == "summary") if "y" in match.groupdict() else None
        if not _is_target(x) or (y is not None and not _is_target(y, MAX_TARGET_WORDS * 3)):
            continue
        if kind == "compare":
            return TaskRequest(kind, (x, y or ""))
        return TaskRequest(kind, (x,), y, document_only)
    return None


def _clean_target(text: str, strip_format: bool) -> str:
    if strip_format:
        text = _FORMAT_TAIL.sub("", text)
    text = _LEADING_PART.sub("", text.strip(_QUOTES + ",:;"))
    return text.strip(_QUOTES + ",:;")


def _is_target(text: str, max_words: int = MAX_TARGET_WORDS) -> bool:
    """A name or topic: some word that is not a pronoun ("summarize it" is a follow-up, not a task)."""
    words = re.findall(r"\w+", text.lower())
    return 0 < len(words) <= max_words and not set(words) <= _PRONOUNS | STOP_WORDS


# --- naming a document -------------------------------------------------------------------------------------

# Words that say "a document" without saying which one.
_GENERIC = frozenset(
    "document documents doc docs file files pdf docx txt md markdown html htm page pages text whole entire full"
    " attached uploaded".split()
)


@dataclass(frozen=True)
class DocumentName:
    """How a request can name a document: its file name, or its title (the opening lines of its first chunk)."""

    document_id: str
    filename: str
    title: str = ""


@cache
def _analyzer() -> Analyzer:
    return Analyzer()


def name_terms(text: str) -> set[str]:
    """Stemmed words of a name: "security_policy.pdf", "RX-200" and "rx200" split at the same places."""
    tokens = re.findall(r"[^\W\d_]+|\d+", normalize(text).lower())
    return set(_analyzer().stems([t for t in tokens if t not in STOP_WORDS]))


def resolve_document(target: str, documents: Sequence[DocumentName]) -> DocumentName | None:
    """The one document `target` names, by file name or title words; None when it names none, or several."""
    lowered = normalize(target).lower().strip(_QUOTES)
    named = [d for d in documents if _mentions(lowered, d.filename.lower()) or lowered == _stem_name(d.filename)]
    if named:
        return named[0] if len(named) == 1 else None
    wanted = name_terms(target) - {s for s in _analyzer().stems(sorted(_GENERIC))}
    if not wanted:  # "the document": a name only when there is one document
        generic = bool(set(re.findall(r"\w+", lowered)) & _GENERIC)
        return documents[0] if generic and len(documents) == 1 else None
    scored = []
    for document in documents:
        folders = document.document_id.rpartition("/")[0].replace("/", " ")  # "security/guide.pdf": folders name it too
        in_name = wanted & (name_terms(_stem_name(document.filename)) | name_terms(folders))
        matched = in_name | (wanted & name_terms(document.title))
        scored.append(((len(matched) / len(wanted), len(in_name)), len(matched), document))
    scored.sort(key=lambda entry: entry[0], reverse=True)
    if not scored:
        return None
    (coverage, _), matched, best = scored[0]
    clear = coverage == 1.0 or (coverage >= 2 / 3 and matched >= 2)
    unique = len(scored) == 1 or scored[1][0] < scored[0][0]
    return best if clear and unique else None


def _mentions(text: str, filename: str) -> bool:
    return re.search(rf"(?<![\w.-]){re.escape(filename)}(?![\w-])", text) is not None


def _stem_name(filename: str) -> str:
    """The file name without its extension, lower-cased: "security_policy.pdf" → "security_policy"."""
    return re.sub(r"\.[A-Za-z0-9]{1,5}$", "", filename.lower())


def opening_lines(text: str, count: int = 2, limit: int = 120) -> str:
    """A chunk's first `count` real lines (a document's title, usually), markdown marks and rules removed."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip(" #=-*_\t\r")
        if len(stripped) > 3:
            lines.append(stripped[:limit])
        if len(lines) == count:
            break
    return "\n".join(lines)
