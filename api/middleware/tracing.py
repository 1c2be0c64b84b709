"""OpenTelemetry tracing: on when OTEL_EXPORTER_OTLP_ENDPOINT is set (OTLP over HTTP). FastAPI's instrumentation
makes a span per request; rag/telemetry.py's retrieve, rerank, generate and check spans nest under it."""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from rag.config import Settings

_provider: TracerProvider | None = None
_otlp_endpoint: str | None = None


def start_tracing(exporter: SpanExporter, batch: bool = True) -> TracerProvider:
    """Send this process's spans to `exporter` too. OpenTelemetry's tracer provider is global: one per process."""
    global _provider
    if _provider is None:
        resource = Resource.create()  # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, when set
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: "rag-service"}))
        _provider = TracerProvider(resource=resource)
        trace.set_tracer_provider(_provider)
    _provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    return _provider


def install_tracing(app: FastAPI, settings: Settings) -> None:
    """Export to the OTLP endpoint if one is set; trace the app's requests whenever tracing is on."""
    global _otlp_endpoint
    if settings.otel_endpoint and _otlp_endpoint != settings.otel_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        start_tracing(OTLPSpanExporter(endpoint=settings.otel_endpoint.rstrip("/") + "/v1/traces"))
        _otlp_endpoint = settings.otel_endpoint
    if _provider is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider, excluded_urls="/metrics,/health")


def shutdown_tracing() -> None:
    """Flush spans still batched (at shutdown)."""
    if _provider is not None:
        _provider.force_flush()
