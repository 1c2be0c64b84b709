"""GET /metrics in Prometheus' text format: the HTTP counters kept here, and everything rag/telemetry.py records."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from api.deps import ServicesDep, require_api_key

HTTP_REQUESTS = Counter("rag_http_requests_total", "HTTP requests, by route and status", ["method", "route", "status"])
HTTP_SECONDS = Histogram(
    "rag_http_request_duration_seconds",
    "HTTP request latency, until the last byte of the response (streams included)",
    ["method", "route"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
JOBS_PENDING = Gauge("rag_ingest_jobs_pending", "Ingestion jobs queued or running (the job queue depth)")


def record_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_SECONDS.labels(method, route).observe(seconds)


def metrics_router(public: bool) -> APIRouter:
    """The /metrics route; behind the API key unless `public` (RAG_PUBLIC_METRICS)."""
    router = APIRouter(tags=["metrics"], dependencies=[] if public else [Depends(require_api_key)])

    @router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
    def metrics(services: ServicesDep) -> Response:
        JOBS_PENDING.set(services.jobs.pending())
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
