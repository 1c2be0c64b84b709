"""`rag serve` (the HTTP API) and `rag worker` (ingestion jobs beside it)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import err_console, fail, local_pipeline
from rag.config import get_settings
from rag.errors import RagError


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(worker)


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default RAG_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default RAG_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes; each loads its own models.")] = 1,
    no_ingest: Annotated[
        bool,
        typer.Option("--no-ingest", help="Serve only: uploads become jobs for `rag worker` (needs RAG_CHROMA_URL)."),
    ] = False,
) -> None:
    """Start the HTTP API (OpenAPI docs at /docs). With embedded Chroma the server owns its data directory:
    CLI commands that write send their work through it."""
    import os

    import uvicorn

    from ingest.ownership import DataDirBusy, claim

    if no_ingest:  # uvicorn's app factory (and each of its worker processes) reads the settings from the env
        os.environ["RAG_SERVE_INGEST"] = "false"
        get_settings.cache_clear()
    settings = get_settings()
    if not settings.serve_ingest and not settings.chroma_url:
        from api.deps import NO_INGEST_NEEDS_CHROMA_SERVER

        raise fail(NO_INGEST_NEEDS_CHROMA_SERVER, 2)
    # With JSON logs uvicorn's own lines go through the app's JSON handler too (api/middleware/request_log.py).
    log_config = None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG
    host, port = host or settings.host, port or settings.port
    if not settings.chroma_url:
        if workers > 1:
            raise fail("several workers need a Chroma server (RAG_CHROMA_URL): embedded Chroma serves one process", 2)
        try:  # before the models load: a busy directory is reported at once
            claim(settings.data_dir, "rag serve", url=reachable_url(host, port))
        except DataDirBusy as exc:
            raise fail(f"{exc.message}; wait for it to finish, or serve another RAG_DATA_DIR") from exc
    uvicorn.run(
        "api.app:app_from_env", factory=True, host=host, port=port,
        workers=workers, log_level="info", access_log=False,  # our own log line has the trace id too
        timeout_graceful_shutdown=settings.shutdown_grace_s,  # then requests still running are cancelled
        log_config=log_config,
    )  # fmt: skip


def worker(
    exit_when_idle: Annotated[
        bool, typer.Option("--exit-when-idle", help="Stop once no job is waiting, instead of waiting for more.")
    ] = False,
) -> None:
    """Run ingestion jobs submitted to the server (e.g. `rag serve --no-ingest`), beside other workers: each
    claims a job, heartbeats while it works, and takes over a job whose worker went silent for RAG_JOB_LEASE_S.
    SIGTERM or Ctrl-C hands the running job back to the queue."""
    import signal
    import threading

    from api.middleware.request_log import configure_logging
    from ingest.jobs.worker import own_data_dir, run_worker

    settings = get_settings()
    configure_logging(settings.log_format)
    stop = threading.Event()

    def stop_soon(signum: int, _frame: object) -> None:
        err_console.print(f"[dim]{signal.Signals(signum).name}: stopping after this encoder batch[/dim]")
        stop.set()

    signal.signal(signal.SIGTERM, stop_soon)
    signal.signal(signal.SIGINT, stop_soon)
    if settings.worker_torch_threads:
        import torch

        torch.set_num_threads(settings.worker_torch_threads)
    try:
        own_data_dir(settings)
        pipeline = local_pipeline()
    except RagError as exc:
        raise fail(exc.message) from exc
    # The loop runs in a thread, so the main one stays free to take the signal at once.
    loop = threading.Thread(target=run_worker, args=(pipeline, settings, stop, exit_when_idle), name="rag-worker")
    loop.start()
    while loop.is_alive():
        loop.join(0.5)


def reachable_url(host: str, port: int) -> str:
    """Where a process on this machine reaches the server (a wildcard bind answers on loopback)."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
