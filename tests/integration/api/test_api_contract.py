"""Search, auth, and the one error contract on every route, through the real app."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rag.config import Settings
from tests.conftest import api_client, ingest_knowledge
from tests.integration.backends.test_api_backends import assert_contract


@pytest.fixture
def kb_settings(tmp_path: Path, embedder) -> Settings:  # type: ignore[no-untyped-def]
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", chat_base_url="http://127.0.0.1:9/v1")  # type: ignore[call-arg]
    ingest_knowledge(settings)
    return settings


def test_search_finds_the_right_chunk_with_attribution(kb_settings: Settings) -> None:
    with api_client(kb_settings) as client:
        response = client.post("/v1/search", json={"query": "what does error E09 mean", "collection": "kb1"})
    assert response.status_code == 200
    top = response.json()["results"][0]
    assert top["filename"] == "robot.md" and top["document_id"] == "robot.md" and "E09" in top["text"]
    assert set(top) == {
        "chunk_id",
        "document_id",
        "filename",
        "page",
        "text",
        "score",
        "section",
        "origin",
        "instructions",
        "instructions_reason",
    }
    assert top["instructions"] is False and top["instructions_reason"] is None
    assert top["origin"] is None  # uploaded, not synced from a source
    assert top["section"] == "RX-200 errors"  # the Markdown heading the passage sits under


def test_search_top_k_filters_and_rerank_switch(kb_settings: Settings) -> None:
    with api_client(kb_settings) as client:
        one = client.post("/v1/search", json={"query": "leave", "collection": "kb1", "top_k": 1}).json()
        only = client.post(
            "/v1/search", json={"query": "leave", "collection": "kb1", "filters": {"filename": "security.txt"}}
        ).json()
        several = client.post(
            "/v1/search",
            json={"query": "leave", "collection": "kb1", "filters": {"document_id": ["robot.md", "security.txt"]}},
        ).json()
        fused = client.post("/v1/search", json={"query": "leave", "collection": "kb1", "rerank": False}).json()
    assert len(one["results"]) == 1
    assert {r["filename"] for r in only["results"]} == {"security.txt"}
    assert {r["filename"] for r in several["results"]} <= {"robot.md", "security.txt"}
    assert all(r["score"] < 0.05 for r in fused["results"])  # reciprocal-rank scores


def test_health_reports_components_without_auth(kb_settings: Settings) -> None:
    with api_client(kb_settings.model_copy(update={"api_keys": "k1"})) as client:
        response = client.get("/health")
    data = response.json()
    assert data["store"] is True and data["embedder"] is True
    assert data["backend"] is False and data["status"] == "degraded" and response.status_code == 503


def test_api_keys_protect_every_route_but_health(kb_settings: Settings) -> None:
    body = {"query": "leave", "collection": "kb1"}
    with api_client(kb_settings.model_copy(update={"api_keys": "k1, k2"})) as client:
        missing = client.post("/v1/search", json=body)
        wrong = client.post("/v1/search", json=body, headers={"Authorization": "Bearer nope"})
        right = client.post("/v1/search", json=body, headers={"Authorization": "Bearer k2"})
        query = client.post("/v1/query", json={"question": "x", "collection": "kb1"})
        metrics = client.get("/metrics")
    assert_contract(missing, 401)
    assert_contract(metrics, 401)  # unless RAG_PUBLIC_METRICS=true (tests/integration/api/test_observability.py)
    assert missing.headers["www-authenticate"] == "Bearer"
    assert_contract(wrong, 401)
    assert_contract(query, 401)
    assert right.status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/search", {"query": "x", "collection": "nope1"}, 404),
        ("/v1/search", {"query": "", "collection": "kb1"}, 422),
        ("/v1/search", {"query": "x", "collection": "kb1", "top_k": 51}, 422),
        ("/v1/search", {"query": "x", "collection": "kb1", "surprise": 1}, 422),
        ("/v1/search", "not json", 422),
        ("/v1/query", {"question": "x", "collection": "nope1"}, 404),
        ("/v1/query", {"question": "   ", "collection": "kb1"}, 422),
        ("/v1/query", {"question": "x", "collection": "kb1", "temperature": 3}, 422),
        ("/v1/query", {"question": "x", "collection": "kb1", "stop": ["s"] * 17}, 422),
        ("/v1/query", {"question": "x", "collection": "kb1", "retrieval": {"top_k": 0}}, 422),
        ("/v1/completions", {"prompt": "x", "collection": "nope1"}, 404),
        ("/v1/embeddings", {"input": []}, 400),
        ("/v1/nothing-here", {}, 404),
    ],
)
def test_every_error_follows_the_contract(kb_settings: Settings, path: str, body: object, status: int) -> None:
    with api_client(kb_settings) as client:
        if isinstance(body, str):
            response = client.post(path, content=body, headers={"content-type": "application/json"})
        else:
            response = client.post(path, json=body)
    assert_contract(response, status)


def test_wrong_method_follows_the_contract(kb_settings: Settings) -> None:
    with api_client(kb_settings) as client:
        assert_contract(client.get("/v1/search"), 405)


def test_a_405_allows_every_method_of_its_path(kb_settings: Settings) -> None:
    """One path is often several routes (GET and POST .../documents); Starlette's own Allow named the first."""
    documents = "/v1/collections/kb1/documents"
    asked = [
        ("OPTIONS", "/v1/collections"), ("OPTIONS", documents), ("PUT", f"{documents}/leave.txt"),
        ("PUT", f"{documents}/leave.txt/chunks"), ("GET", "/v1/search"),
        ("PUT", f"{documents}/a/b"),  # an id holding '/': outside the document's templates
    ]  # fmt: skip
    with api_client(kb_settings) as client:
        answers = {(method, path): client.request(method, path) for method, path in asked}
    for response in answers.values():
        assert_contract(response, 405)
    assert {key: response.headers["allow"] for key, response in answers.items()} == {
        ("OPTIONS", "/v1/collections"): "GET, POST",
        ("OPTIONS", documents): "GET, POST",
        ("PUT", f"{documents}/leave.txt"): "GET, DELETE",
        ("PUT", f"{documents}/leave.txt/chunks"): "GET",
        ("GET", "/v1/search"): "POST",
        ("PUT", f"{documents}/a/b"): "GET, DELETE",
    }


def test_every_route_is_covered_by_the_contract_tests(kb_settings: Settings) -> None:
    """A new route must be added to the contract tests above (or here) before it ships."""
    from api.app import create_app

    paths = set(create_app(kb_settings).openapi()["paths"])
    assert paths == {
        "/health", "/v1/search", "/v1/query", "/v1/collections", "/v1/collections/{name}",
        "/v1/collections/{name}/documents", "/v1/collections/{name}/documents/{document_id}",
        "/v1/collections/{name}/documents/{document_id}/chunks", "/v1/jobs/{job_id}", "/v1/chat/completions",
        "/v1/models", "/v1/summarize", "/v1/completions", "/v1/embeddings", "/metrics",
        # their contract: tests/integration/api/test_web_routes.py
        "/v1/collections/{name}/documents/{document_id}/pages/{page}.png",
        "/v1/collections/{name}/documents/{document_id}/original",
        # their contract: tests/integration/api/test_feedback.py, test_insights.py
        "/v1/answers/{answer_id}/feedback", "/v1/collections/{name}/insights",
        # their contract: tests/integration/cli/test_bundles.py
        "/v1/collections/{name}/export", "/v1/imports",
        # their contract: tests/integration/api/test_sources_api.py
        "/v1/collections/{name}/sources", "/v1/collections/{name}/sources/{source_id}",
        "/v1/collections/{name}/sources/{source_id}/sync",
    }  # fmt: skip


def test_trace_id_is_in_the_header_and_the_log_line(kb_settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="rag.api"), api_client(kb_settings) as client:
        response = client.post("/v1/search", json={"query": "leave", "collection": "kb1"})
        echoed = client.get("/health", headers={"X-Trace-Id": "abc123"})
    trace_id = response.headers["x-trace-id"]
    assert len(trace_id) == 32
    assert any(f"traceId={trace_id}" in r.getMessage() and "/v1/search 200" in r.getMessage() for r in caplog.records)
    assert echoed.headers["x-trace-id"] == "abc123"


def test_openapi_docs_are_served(kb_settings: Settings) -> None:
    with api_client(kb_settings) as client:
        assert client.get("/docs").status_code == 200
        schema = client.get("/openapi.json").json()
    assert "/v1/query" in schema["paths"] and "ErrorResponse" in schema["components"]["schemas"]


def test_near_duplicate_passages_are_one_result_the_better_heading_match_first(kb_settings: Settings) -> None:
    """Two manuals say the same about different commands: search shows one, the one whose headings name the
    command asked about (RAG_SEARCH_STEPS' default `dedupe`)."""
    body = "The verbose option prints every step it takes and every file it reads while it runs, one per line."
    with api_client(kb_settings) as client:
        for name, heading in (("backup.md", "backup-tool options"), ("restore.md", "restore-tool options")):
            text = f"# {heading}\n\n{body}"
            created = client.post("/v1/collections/kb1/documents", json={"text": text, "filename": name})
            assert created.status_code == 201, created.text
        found = client.post("/v1/search", json={"query": "restore-tool verbose option", "collection": "kb1"}).json()
    names = [r["filename"] for r in found["results"]]
    assert names[0] == "restore.md" and "backup.md" not in names
    assert found["results"][0]["section"] == "restore-tool options"
