"""Citations where OpenAI clients look for them: `url_citation` annotations and a plain-text "Sources:" block.

Clients that only know OpenAI's schema drop our `sources` field (LangChain, `llm`); OpenAI's own
`annotations` on the assistant message survive in more of them, and the "Sources:" block survives in all.
"""

from __future__ import annotations

from urllib.parse import quote

from rag.answering.service import Answer
from rag.types import SearchHit


def source_label(hit: SearchHit) -> str:
    """How a reader names a source: `handbook.pdf, p. 3`; one from a synced source says where it lives too
    (`guide.md, p. 1 <https://git.example.org/docs/blob/3f2c…/guide.md>`), so the reader can open it."""
    label = f"{hit.filename}, p. {hit.page}" if hit.page is not None else hit.filename
    origin = hit.metadata.get("origin")
    return f"{label} <{origin}>" if origin else label


def chunk_url(base_url: str, collection: str, hit: SearchHit) -> str:
    """An absolute URL of this service that returns the cited chunk: the document's chunk list at its index."""
    document = quote(hit.document_id, safe="/")
    index = int(hit.metadata.get("chunk_index", 0))
    return (
        f"{base_url.rstrip('/')}/v1/collections/{quote(collection, safe='')}/documents/{document}/chunks"
        f"?offset={index}&limit=1"
    )


def annotations_out(answer: Answer, collection: str | None, base_url: str) -> list[dict[str, object]]:
    """One OpenAI `url_citation` per cited sentence, with its character range in the answer text.

    Ranges count Python characters (code points) in `answer.answer`; a withheld answer cites nothing."""
    report = answer.grounding
    if answer.abstained or report is None or collection is None:
        return []
    annotations: list[dict[str, object]] = []
    for citation in report.citations:
        if not 1 <= citation.n <= len(answer.sources):
            continue
        hit = answer.sources[citation.n - 1]
        url_citation = {
            "start_index": citation.start, "end_index": citation.end,
            "url": chunk_url(base_url, hit.metadata.get("collection") or collection, hit),
            "title": f"[{citation.n}] {source_label(hit)}",
        }  # fmt: skip
        annotations.append({"type": "url_citation", "url_citation": url_citation})
    return annotations


def sources_block(answer: Answer) -> str:
    """The compact "Sources:" block appended to the content for text-only clients: the sources the answer cites,
    in order (`[1] handbook.pdf, p. 3`); empty when it cites none."""
    report = answer.grounding
    if answer.abstained or report is None:
        return ""
    cited = sorted({c.n for c in report.citations if 1 <= c.n <= len(answer.sources)})
    if not cited:
        return ""
    lines = [f"[{n}] {source_label(answer.sources[n - 1])}" for n in cited]
    return "\n\nSources:\n" + "\n".join(lines)
