"""Questions about the collection itself ("what are these documents about?") answered from its documents.

Retrieval cannot answer them: no chunk says what the collection holds. The document list can: each
document's name and the opening line of its first chunk (usually its title), cited like any source.
"""

from __future__ import annotations

import re

from rag.answering.grounding import GroundingReport, SentenceCitation
from rag.retrieval.keyword import KeywordIndex
from rag.text.instructions import flagged
from rag.types import SearchHit

MAX_DOCUMENTS = 20
_DOCS = r"(?:documents?|docs|files?|sources?|collection|knowledge\s*base)"
_THESE = r"(?:these|the|those|your|this|all(?:\s+the)?|all\s+these)"
_ABOUT_COLLECTION = re.compile(
    "|".join(
        [
            rf"(?:what|which)\s+(?:are|is)\s+{_THESE}\s+{_DOCS}(?:\s+(?:about|on|for))?",
            rf"(?:what|which)\s+{_DOCS}\s+(?:do|does|did|can)\s+(?:you|we|i|{_THESE}\s+{_DOCS})"
            r"\s+(?:have|hold|contain|know(?:\s+about)?|cover|search|use)(?:\s+here)?",
            rf"what(?:'s|\s+is)\s+in\s+{_THESE}\s+{_DOCS}",
            rf"(?:list|show)(?:\s+me)?\s+(?:all\s+)?(?:the\s+|your\s+)?{_DOCS}(?:\s+you\s+have)?",
            r"what\s+(?:can|could|should)\s+(?:i|we)\s+ask(?:\s+(?:you|about))?",
            rf"what\s+(?:topics|subjects)\s+do\s+{_THESE}\s+{_DOCS}\s+cover",
            rf"(?:summari[sz]e|describe)\s+{_THESE}\s+{_DOCS}",
        ]
    ),
    re.IGNORECASE,
)


def is_collection_question(question: str) -> bool:
    """True for questions about what the collection holds, not about something in it."""
    return bool(_ABOUT_COLLECTION.fullmatch(question.strip().rstrip("?!. ")))


def _opening_line(text: str, limit: int = 120) -> tuple[int, int]:
    """The character range of the text's first real line (its title, usually), cut at `limit`."""
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip(" #=-*\t\r\n")
        if len(stripped) > 3:
            start = offset + line.index(stripped)
            end = start + min(len(stripped), limit)
            return start, end
        offset += len(line)
    return 0, 0


class CollectionOverview:
    def __init__(self, keyword: KeywordIndex) -> None:
        self.keyword = keyword

    def describe(self, collection: str) -> tuple[GroundingReport, list[SearchHit]]:
        """A short answer listing the documents, each line cited with its document's opening line as the quote."""
        chunks = self.keyword.first_chunks(collection, MAX_DOCUMENTS + 1)
        sources = [
            SearchHit(
                c.chunk_id,
                c.document_id,
                str(c.metadata.get("filename", c.document_id)),
                c.metadata.get("page"),
                c.text,
                1.0,
                c.metadata,
            )  # fmt: skip
            for c in chunks[:MAX_DOCUMENTS]
        ]
        if not sources:
            return GroundingReport("This collection holds no documents yet.", [], [], 0, 0), []
        more = " (and more)" if len(chunks) > MAX_DOCUMENTS else ""
        text = f"This collection holds {len(sources)} document{'s' if len(sources) > 1 else ''}{more}:"
        citations = []
        for n, hit in enumerate(sources, start=1):
            # A document that gives orders to an AI is listed by name only: its opening line may be the order.
            quote_start, quote_end = (0, 0) if flagged(hit) else _opening_line(hit.text)
            quote = " ".join(hit.text[quote_start:quote_end].split())
            line = f"- {hit.filename}: {quote} [{n}]" if quote else f"- {hit.filename} [{n}]"
            start = len(text) + 1
            text += "\n" + line
            citations.append(
                SentenceCitation(
                    start, len(text), n, hit.chunk_id, hit.page, quote_start, quote_end, quote, 1.0, hit.section
                )
            )
        return GroundingReport(text, citations, [], len(citations), len(citations)), sources
