"""The extractive answerer: which sentences it quotes, where its citations point, when it gives up."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pytest

from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.sentences import SentenceVectors, clean_quote
from rag.retrieval.embeddings import SentenceTransformerEmbedder
from rag.types import SearchHit


def hit(chunk_id: str, text: str, filename: str = "handbook.txt", page: int | None = None) -> SearchHit:
    return SearchHit(chunk_id, filename, filename, page, text, 1.0)


LEAVE = [
    hit(
        "policy-1",
        "Annual leave is described in this handbook. Employees request leave in PeopleHub, and their manager "
        "approves each request.",
    ),
    hit(
        "policy-2",
        "Full-time employees receive 25 days of paid annual leave per year. Unused days expire in March.",
    ),
    hit("canteen-1", "The canteen opens at noon. Vegetarian dishes are served every day."),
]


class CountingEmbedder:
    """The real embedder, counting the sentences it is asked to embed."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.embedded = 0

    def embed_sentences(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += len(texts)
        return self.inner.embed_sentences(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


@pytest.fixture
def answerer(embedder: SentenceTransformerEmbedder) -> ExtractiveAnswerer:
    return ExtractiveAnswerer(SentenceVectors(embedder))


def test_how_many_question_quotes_the_sentence_with_the_number_even_from_source_2(
    answerer: ExtractiveAnswerer,
) -> None:
    answer = answerer.answer("How many days of annual leave do full-time employees get?", LEAVE)
    assert not answer.empty
    assert answer.sentences[0].n == 2
    assert answer.text.startswith("Full-time employees receive 25 days of paid annual leave per year. [2]")


def test_citations_and_ranges_point_into_the_cited_source(answerer: ExtractiveAnswerer) -> None:
    answer = answerer.answer("How do employees request annual leave, and how many days do they get?", LEAVE)
    assert len(answer.sentences) >= 2
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.text)]
    assert markers == [s.n for s in answer.sentences]
    for sentence in answer.sentences:
        source = LEAVE[sentence.n - 1]
        assert sentence.chunk_id == source.chunk_id
        assert clean_quote(source.text[sentence.start : sentence.end]) == sentence.text
        assert f"{sentence.text} [{sentence.n}]" in answer.text
    assert {s.chunk_id for s in answer.sentences} == {"policy-1", "policy-2"}


def test_quotes_are_cleaned_but_ranges_refer_to_the_raw_text(answerer: ExtractiveAnswerer) -> None:
    raw = "Some notes.\n\nThe conﬁguration\n    ﬁle  is read once at startup from /etc/app.conf."
    answer = answerer.answer("When is the configuration file read?", [hit("c", raw)])
    sentence = answer.sentences[0]
    assert sentence.text == "The configuration file is read once at startup from /etc/app.conf."
    assert raw[sentence.start : sentence.end].startswith("The conﬁguration\n")


def test_unrelated_question_gives_an_empty_answer(answerer: ExtractiveAnswerer) -> None:
    answer = answerer.answer("How do I bake sourdough bread?", LEAVE)
    assert answer.empty
    assert answer.text == ""


def test_no_sources_gives_an_empty_answer(answerer: ExtractiveAnswerer) -> None:
    assert answerer.answer("How many days of annual leave?", []).empty


def test_over_long_sentence_is_trimmed_to_a_window_around_the_question_words(answerer: ExtractiveAnswerer) -> None:
    options = [f"--option{i} sets parameter number {i} of the renderer and is off by default" for i in range(40)]
    options[23] = "--timeout sets the idle timeout of the session in seconds and defaults to 300"
    text = ", ".join(options)  # one 3,000-character "sentence", like an option table extracted from a PDF
    answer = answerer.answer("What does --timeout set?", [hit("opts", text, "manual.pdf", 7)])
    sentence = answer.sentences[0]
    assert "--timeout sets the idle timeout" in text[sentence.start : sentence.end]
    assert 0 < sentence.start and sentence.end < len(text)
    assert sentence.text.startswith("… ") and sentence.text.endswith(" …")
    assert len(answer.text) <= answerer.max_chars


def test_answer_keeps_within_max_sentences_and_max_chars(embedder: SentenceTransformerEmbedder) -> None:
    answerer = ExtractiveAnswerer(SentenceVectors(embedder), max_sentences=1, max_chars=200)
    answer = answerer.answer("How do employees request annual leave, and how many days do they get?", LEAVE)
    assert len(answer.sentences) == 1
    assert len(answer.text) <= 200


def test_sentence_vectors_are_cached_between_questions(embedder: SentenceTransformerEmbedder) -> None:
    counting = CountingEmbedder(embedder)
    answerer = ExtractiveAnswerer(SentenceVectors(counting))  # type: ignore[arg-type]
    answerer.answer("How many days of annual leave do full-time employees get?", LEAVE)
    first = counting.embedded
    answerer.answer("Where do employees request leave?", LEAVE)
    assert first > 0
    assert counting.embedded == first


def test_answer_spanning_two_sentences_quotes_the_continuation_in_document_order(answerer: ExtractiveAnswerer) -> None:
    sources = [
        hit(
            "opts",
            "--max-stack=N Specify the maximum size of the pointer protection stack as N locations. This defaults "
            "to 10000, but can be increased for large calculations. Use --quiet to hide the welcome message.",
            "manual.pdf",
            100,
        ),
        hit("other", "The pointer protection stack is described in the developer guide.", "guide.pdf", 3),
    ]
    answer = answerer.answer("What is the default size of the pointer protection stack?", sources)
    assert [(s.n, s.chunk_id) for s in answer.sentences][:2] == [(1, "opts"), (1, "opts")]
    assert answer.text.startswith("--max-stack=N Specify the maximum size of the pointer protection stack")
    assert "This defaults to 10000, but can be increased for large calculations. [1]" in answer.text
    assert "--quiet" not in answer.text


def test_a_sentence_repeated_by_overlapping_chunks_is_quoted_once_from_the_better_ranked_one(
    answerer: ExtractiveAnswerer,
) -> None:
    shared = "Passwords must be at least 14 characters long."
    sources = [hit("a", f"Accounts are reviewed yearly. {shared}"), hit("b", f"{shared} They are never reused.")]
    answer = answerer.answer("How long must passwords be?", sources)
    assert answer.text.count(shared) == 1
    assert answer.sentences[0].n == 1


def test_a_paraphrased_question_finds_the_sentence_that_shares_none_of_its_words(answerer: ExtractiveAnswerer) -> None:
    sources = [
        hit("it-1", "Laptops are issued by the IT desk on your first day. Charge them overnight before travel."),
        hit("it-2", "If your computer is lost or stolen, report it to the security team within one hour. "
                    "Keep the receipt of any police report."),
    ]  # fmt: skip
    answer = answerer.answer("Someone took my work notebook from my car, what now?", sources)
    assert answer.sentences[0].chunk_id == "it-2"
    assert answer.text.startswith("If your computer is lost or stolen, report it to the security team")


def test_a_sentence_that_shares_words_but_does_not_address_the_question_is_no_answer(
    answerer: ExtractiveAnswerer,
) -> None:
    sources = [hit("pw", "You must change your network password every 90 days. Passwords are stored in KeyHaven.")]
    strict = ExtractiveAnswerer(answerer.vectors, min_relevance=0.35)  # a fit with a relevance cut
    assert strict.answer("Is there a policy on dating a coworker?", sources).empty
    assert not strict.answer("How often must I change my network password?", sources).empty


def test_a_sentence_that_introduces_a_list_brings_its_items(answerer: ExtractiveAnswerer) -> None:
    text = (
        "Leave is approved by your supervisor.\n\nBefore taking leave, be sure to:\n"
        "- Submit the request in the leave system two weeks ahead.\n- Set an out-of-office reply on your email.\n"
        "- Tell your team who covers your work.\n\nLeave without approval is recorded as absence."
    )
    answer = answerer.answer("I'm taking next week off. What should I do before I leave?", [hit("leave", text)])
    assert answer.text.startswith("Before taking leave, be sure to:")
    for item in ("Submit the request", "out-of-office reply", "who covers your work"):
        assert item in answer.text
    assert "without approval" not in answer.text


def test_a_stack_of_headings_is_never_the_answer(answerer: ExtractiveAnswerer) -> None:
    sources = [
        hit("title", "Dishwasher DW-500 error codes\nDishwasher DW-500 error codes"),
        hit("rows", "| Code | Meaning |\n| --- | --- |\n| F1 | Water inlet too slow |\n| F2 | Water not draining |"),
    ]
    answer = answerer.answer("What does error F2 mean on the dishwasher?", sources)
    assert answer.text == "Code: F2; Meaning: Water not draining [2]"


def test_a_table_row_is_scored_with_the_line_above_its_table(answerer: ExtractiveAnswerer) -> None:
    sources = [
        hit(
            "codes",
            "The display shows a code when the dishwasher stops.\n| Code | Meaning |\n| --- | --- |\n"
            "| F1 | Water inlet too slow |\n| F5 | Leak detected |",
        )
    ]
    answer = answerer.answer("The dishwasher shows F5. What does that mean?", sources)
    assert answer.text == "Code: F5; Meaning: Leak detected [1]"  # the caption is read, not quoted
