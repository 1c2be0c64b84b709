"""Requests for a task over the sample documents, through /v1/query and chat: served and cited, not refused.

Real pipeline, Chroma and embedder over `sample_docs`; the local defaults answer by quoting (extract mode),
and a fake OpenAI-compatible server plays the model where the model writes the summary.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ingest.service import build_pipeline
from rag.config import Settings
from rag.retrieval.components import build_components
from tests.conftest import SAMPLE_DOCS, api_client
from tests.fakes import fake_openai_server
from tests.integration.backends.test_api_backends import sse_events, with_backend

POLICY = "security_policy.pdf"


@pytest.fixture(scope="module")
def sample_settings(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Settings:
    from cli.library import collect_sources

    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("tasks") / "data")  # type: ignore[call-arg]
    results = build_pipeline(build_components(settings)).ingest(collect_sources([SAMPLE_DOCS], False), "sample")
    assert results and all(r.status == "ingested" for r in results)
    return settings


@pytest.fixture(scope="module")
def client(sample_settings: Settings) -> Iterator[Any]:
    """One app on the local defaults (extract mode) for the module: starting one takes seconds."""
    with api_client(sample_settings) as client:
        yield client


def query(client: Any, question: str) -> dict[str, Any]:
    response = client.post("/v1/query", json={"question": question, "collection": "sample"})
    assert response.status_code == 200, response.text
    return response.json()


def assert_cited_from(data: dict[str, Any], filename: str) -> None:
    """Answered, every source from `filename`, and every citation's quote standing in its source."""
    assert data["abstained"] is False and data["citations"], data["answer"]
    assert {s["filename"] for s in data["sources"]} == {filename}
    for citation in data["citations"]:
        source = data["sources"][citation["n"] - 1]
        assert source["text"][citation["quote_start"] : citation["quote_end"]] == citation["quote"]
        assert f"[{citation['n']}]" in data["answer"][citation["start"] : citation["end"]]


def test_summarize_a_document_quotes_its_main_points_with_citations(client: Any) -> None:
    data = query(client, "summarize the security policy")
    assert data["mode"] == "task" and data["answer"].startswith(f"Summary of {POLICY}:")
    assert_cited_from(data, POLICY)
    assert 3 <= len(data["citations"]) <= 5 and data["grounded"] == 1.0 and data["unsupported"] == []


@pytest.mark.parametrize(
    "question",
    [
        "What does security_policy.pdf say about locking the screen?",
        "What does security_policy.pdf say about Lock your screen yourself (Windows key?",  # issue 23's wording
    ],
)
def test_what_a_named_file_says_about_something_is_answered_from_that_file(client: Any, question: str) -> None:
    data = query(client, question)
    assert "Lock your screen yourself" in data["answer"]
    assert_cited_from(data, POLICY)


def test_what_a_document_says_about_what_it_never_mentions_abstains(client: Any) -> None:
    data = query(client, "What does the security policy say about parental leave?")
    assert data["abstained"] is True  # the handbook has it, but the question was about the policy


def test_the_steps_of_a_procedure_are_listed_in_order_across_a_page_break(client: Any) -> None:
    data = query(client, "list the steps to handle a security incident")
    assert data["mode"] == "task"
    assert_cited_from(data, POLICY)
    positions = [data["answer"].find(f"Step {n} -") for n in range(1, 7)]
    assert -1 not in positions and positions == sorted(positions), data["answer"]
    assert {s["page"] for s in data["sources"]} == {2, 3}  # steps 1-2 on page 2, 3-6 on page 3


def test_a_comparison_quotes_each_side_under_its_label(client: Any) -> None:
    data = query(client, "What is the difference between sick leave and annual leave?")
    assert data["mode"] == "task"
    assert_cited_from(data, "employee_handbook.pdf")
    assert "sick leave:" in data["answer"] and "annual leave:" in data["answer"]


@pytest.mark.parametrize("question", ["What does PTO mean?", "Who owns the security policy?"])
def test_fact_questions_stay_on_the_normal_path(client: Any, question: str) -> None:
    assert query(client, question)["mode"] != "task"


def test_a_streamed_summary_ends_with_its_checked_citations(client: Any) -> None:
    response = client.post(
        "/v1/query", json={"question": "Give me an overview of the employee handbook", "collection": "sample",
                           "stream": True},
    )  # fmt: skip
    events = sse_events(response.text)
    head, final = events[0], events[-3]
    assert isinstance(head, dict) and isinstance(final, dict)
    assert {s["filename"] for s in head["sources"]} == {"employee_handbook.pdf"}
    assert final["type"] == "citations" and final["mode"] == "task" and final["citations"]


def test_chat_summarizes_a_document_even_after_other_turns(client: Any) -> None:
    messages = [
        {"role": "user", "content": "How long must passwords be?"},
        {"role": "assistant", "content": "Passwords must be at least 14 characters long [1]."},
        {"role": "user", "content": "Summarize the security policy"},  # short: not glued to the question before
    ]
    response = client.post("/v1/chat/completions", json={"messages": messages, "collection": "sample"})
    assert response.status_code == 200, response.text
    data = response.json()
    content = data["choices"][0]["message"]["content"]
    assert content.startswith(f"Summary of {POLICY}:") and "[1]" in content
    assert {s["filename"] for s in data["sources"]} == {POLICY}
    assert data["verification"]["mode"] == "task" and data["verification"]["citations"]


def test_chat_answers_what_a_named_file_says(client: Any) -> None:
    messages = [{"role": "user", "content": "What does security_policy.pdf say about locking the screen?"}]
    data = client.post("/v1/chat/completions", json={"messages": messages, "collection": "sample"}).json()
    assert "Lock your screen yourself" in data["choices"][0]["message"]["content"]
    assert {s["filename"] for s in data["sources"]} == {POLICY} and data["verification"]["citations"]


def test_with_a_model_the_summary_prompt_gets_only_that_documents_chunks(sample_settings: Settings) -> None:
    reply = "Passwords for company accounts must be at least 14 characters long [1]."
    with fake_openai_server(reply=reply) as fake:
        with api_client(with_backend(sample_settings, fake.base_url)) as client:
            data = client.post("/v1/query", json={"question": "summarize the security policy", "collection": "sample"})
    data = data.json()
    assert fake.calls == 1 and data["mode"] == "generate"
    assert_cited_from(data, POLICY)
    [system, user] = fake.requests[-1].json["messages"]
    assert "summarize" in system["content"] and POLICY in user["content"]
    assert "employee_handbook.pdf" not in user["content"]
