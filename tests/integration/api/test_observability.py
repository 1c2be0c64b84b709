"""Observability as an operator sees it: /metrics after real traffic, one JSON log line per request, and traces
(in memory, and over OTLP from a real `rag serve`)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from rag.config import Settings
from tests.conftest import BIN, KNOWLEDGE, free_port, ingest_knowledge, server_process
from tests.fakes import fake_openai_server

REPLY = "Full-time employees receive 25 days of paid annual leave [1]."
QUESTION = "How many days of annual leave do full-time employees get?"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, headers: dict[str, str] | None = None) -> Samples:
    response = httpx.get(f"{url}/metrics", headers=headers, timeout=60)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    assert key in after, f"{name}{labels} not exported"
    return after[key] - before.get(key, 0.0)


def test_metrics_count_the_traffic_sent(live_server) -> None:  # type: ignore[no-untyped-def]
    with fake_openai_server(reply=REPLY) as fake:
        url = live_server(chat_base_url=fake.base_url, api_keys="metrics-key")
        auth = {"Authorization": "Bearer metrics-key"}
        assert httpx.get(f"{url}/metrics").status_code == 401  # behind the API key by default
        before = scrape(url, auth)
        with httpx.Client(base_url=url, headers=auth, timeout=300) as client:
            files = [("files", (name, text.encode())) for name, text in KNOWLEDGE.items()]
            files.append(("files", ("broken.pdf", b"%PDF-1.7 not really")))
            assert client.post("/v1/collections", json={"name": "kb1"}).status_code == 201
            uploaded = client.post("/v1/collections/kb1/documents", files=files)
            answers = [client.post("/v1/query", json={"question": QUESTION, "collection": "kb1"}) for _ in range(3)]
            streamed = {"question": QUESTION, "collection": "kb1", "stream": True}
            with client.stream("POST", "/v1/query", json=streamed) as stream:
                events = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: {")]
            abstained = client.post("/v1/query", json={"question": "Who won the 1974 Eurovision contest in Brighton?",
                                                       "collection": "kb1"})  # fmt: skip
            missing = client.post("/v1/query", json={"question": QUESTION, "collection": "nope1"})
        after = scrape(url, auth)

    assert uploaded.status_code == 201
    results = {r["filename"]: r for r in uploaded.json()["results"]}
    assert [r["status"] for r in results.values()] == ["ingested"] * len(KNOWLEDGE) + ["failed"]
    assert all(a.status_code == 200 and not a.json()["abstained"] for a in answers)
    assert abstained.json()["abstained"] and missing.status_code == 404
    done = next(e for e in events if e["type"] == "done")

    requests = "rag_http_requests_total"
    assert delta(before, after, requests, method="POST", route="/v1/query", status="200") == 5
    assert delta(before, after, requests, method="POST", route="/v1/query", status="404") == 1
    assert delta(before, after, requests, method="POST", route="/v1/collections", status="201") == 1
    assert delta(before, after, requests, method="POST", route="/v1/collections/{name}/documents", status="201") == 1
    assert delta(before, after, "rag_http_request_duration_seconds_count", method="POST", route="/v1/query") == 6
    # Four answers were generated (3 whole, 1 streamed); the abstention never reached the model.
    prompt = sum(a.json()["usage"]["prompt_tokens"] for a in answers) + done["usage"]["prompt_tokens"]
    completion = sum(a.json()["usage"]["completion_tokens"] for a in answers) + done["usage"]["completion_tokens"]
    assert delta(before, after, "rag_tokens_total", kind="prompt") == prompt > 0
    assert delta(before, after, "rag_tokens_total", kind="completion") == completion > 0
    assert delta(before, after, "rag_generation_time_to_first_token_seconds_count") == 4
    assert delta(before, after, "rag_generation_tokens_per_second_count") == 4
    assert delta(before, after, "rag_stage_duration_seconds_count", stage="generate") == 4
    assert delta(before, after, "rag_stage_duration_seconds_count", stage="check") == 4
    assert delta(before, after, "rag_stage_duration_seconds_count", stage="retrieve") == 5
    assert delta(before, after, "rag_stage_duration_seconds_sum", stage="retrieve") > 0
    assert delta(before, after, "rag_answers_total", mode="generate") == 4
    assert delta(before, after, "rag_abstentions_total", reason="no_relevant_sources") == 1
    assert delta(before, after, "rag_ingest_documents_total", status="ingested") == len(KNOWLEDGE)
    assert delta(before, after, "rag_ingest_documents_total", status="failed") == 1
    assert delta(before, after, "rag_ingest_chunks_total") == sum(r["chunks"] for r in results.values())
    assert after[("rag_ingest_jobs_pending", frozenset())] == 0


def test_public_metrics_need_no_key_while_the_api_still_does(live_server) -> None:  # type: ignore[no-untyped-def]
    url = live_server(api_keys="k1", public_metrics=True)
    assert "rag_http_requests_total" in httpx.get(f"{url}/metrics").text
    assert httpx.post(f"{url}/v1/search", json={"query": "x", "collection": "kb1"}).status_code == 401


def test_traces_nest_retrieve_rerank_generate_and_check_under_the_request(tmp_path: Path, live_server) -> None:  # type: ignore[no-untyped-def]
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    from api.middleware.tracing import start_tracing

    exporter = InMemorySpanExporter()
    start_tracing(exporter, batch=False)  # as OTEL_EXPORTER_OTLP_ENDPOINT would, with an in-process exporter
    try:
        ingest_knowledge(Settings(_env_file=None, data_dir=tmp_path / "data"), "kb1")  # type: ignore[call-arg]
        with fake_openai_server(reply=REPLY) as fake:
            url = live_server(chat_base_url=fake.base_url)
            response = httpx.post(f"{url}/v1/query", json={"question": QUESTION, "collection": "kb1"}, timeout=300)
        assert response.status_code == 200 and not response.json()["abstained"]
        spans = exporter.get_finished_spans()
    finally:
        exporter.shutdown()  # later tests' spans are dropped
    server = next(
        s for s in spans if s.kind == SpanKind.SERVER and (s.attributes or {}).get("http.route") == "/v1/query"
    )
    ours = {s.name: s for s in spans if s.context.trace_id == server.context.trace_id}
    assert {"retrieve", "rerank", "generate", "check"} <= set(ours)
    assert ours["retrieve"].parent.span_id == server.context.span_id
    assert ours["rerank"].parent.span_id == ours["retrieve"].context.span_id
    assert ours["generate"].parent.span_id == server.context.span_id
    assert ours["check"].parent.span_id == server.context.span_id
    assert ours["retrieve"].attributes["collection"] == "kb1"
    assert ours["generate"].attributes["completion_tokens"] == response.json()["usage"]["completion_tokens"]


@contextmanager
def fake_otlp_collector() -> Iterator[tuple[str, list[bytes]]]:
    """An OTLP/HTTP trace receiver: stores each protobuf export request it is sent."""
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/v1/traces":
                received.append(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()


def exported_spans(bodies: list[bytes]) -> list[tuple[str, str, str]]:
    """(service name, span name, trace id) of every span in the collector's export requests."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    spans = []
    for body in bodies:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.append((attributes.get("service.name", ""), span.name, span.trace_id.hex()))
    return spans


def test_rag_serve_logs_one_json_line_per_request_and_exports_its_trace(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ingest_knowledge(Settings(_env_file=None, data_dir=data), "kb1")  # type: ignore[call-arg]
    port, log_path = free_port(), tmp_path / "serve.log"
    with fake_openai_server(reply=REPLY) as fake, fake_otlp_collector() as (collector, received):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OTEL_"))},
            "RAG_DATA_DIR": str(data), "RAG_PORT": str(port), "RAG_CHAT_BASE_URL": fake.base_url,
            "RAG_API_KEYS": "log-secret-key", "RAG_LOG_FORMAT": "json", "OTEL_EXPORTER_OTLP_ENDPOINT": collector,
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
        }  # fmt: skip
        auth = {"Authorization": "Bearer log-secret-key"}
        with server_process([str(BIN / "rag"), "serve"], "/health", port, log_path, timeout=600, env=env, cwd=tmp_path):
            url = f"http://127.0.0.1:{port}"
            answer = httpx.post(f"{url}/v1/query", json={"question": QUESTION, "collection": "kb1"}, headers=auth,
                                timeout=300)  # fmt: skip
            listed = httpx.get(f"{url}/v1/collections/kb1/documents", headers=auth, timeout=60)
            denied = httpx.get(f"{url}/v1/collections", timeout=60)
        deadline = time.monotonic() + 60  # spans are sent in batches; the last at shutdown
        while time.monotonic() < deadline and "retrieve" not in {name for _, name, _ in exported_spans(received)}:
            time.sleep(0.5)

    assert answer.status_code == 200 and listed.status_code == 200 and denied.status_code == 401
    log_text = log_path.read_text()
    lines = [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]
    requests = [line for line in lines if "route" in line]
    by_route = {line["route"]: line for line in requests}
    assert len([line for line in requests if line["route"] == "/v1/query"]) == 1  # one line per request
    query = by_route["/v1/query"]
    assert query["traceId"] == answer.headers["x-trace-id"] and query["status"] == 200
    assert query["collection"] == "kb1" and query["latencyMs"] > 0 and query["level"] == "info"
    assert query["promptTokens"] == answer.json()["usage"]["prompt_tokens"] > 0
    assert query["completionTokens"] == answer.json()["usage"]["completion_tokens"] > 0
    assert by_route["/v1/collections/{name}/documents"]["collection"] == "kb1"
    # The key check runs before routing (an unauthenticated client learns nothing of the routes): logged unmatched.
    assert by_route["unmatched"]["status"] == 401 and by_route["unmatched"]["traceId"] == denied.headers["x-trace-id"]
    assert any("Uvicorn running" in line["msg"] for line in lines)  # the server's own lines are JSON too
    # No keys, questions or document text in the log.
    for secret in ("log-secret-key", QUESTION, "PeopleHub", "paid annual leave"):
        assert secret not in log_text

    spans = exported_spans(received)
    assert {"retrieve", "rerank", "generate", "check"} <= {name for _, name, _ in spans}
    assert {service for service, _, _ in spans} == {"rag-service"}
    assert query["otelTraceId"] in {trace for _, name, trace in spans if name == "retrieve"}
