"""Shared fixtures: real embedder, real Chroma (embedded and `chroma run`), real PDFs."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.pipeline import IngestPipeline
from ingest.service import build_pipeline
from rag.config import Settings
from rag.retrieval.components import Components, build_components
from rag.retrieval.embeddings import SentenceTransformerEmbedder, load_embedder

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DOCS = ROOT / "sample_docs"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_http(url: str, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@contextmanager
def server_process(
    command: list[str], health_path: str, port: int, log_path: Path | None = None, timeout: float = 120.0, **popen: Any
) -> Iterator[str]:
    """Run a real server as a subprocess until it answers `health_path`; yields its URL; stops it after."""
    with open(log_path or os.devnull, "wb") as log:  # the child keeps its own handle
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **popen)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + health_path, timeout=timeout, process=proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def make_pdf(pages: list[str]) -> bytes:
    """A real multi-page PDF with extractable text."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def make_scanned_pdf() -> bytes:
    """A PDF whose page holds only drawn shapes: what a scan looks like to a text extractor."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    return bytes(pdf.output())


def make_encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(["secret page"]))))
    writer.encrypt(user_password="hunter2", owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    return load_embedder(None, 64, True)  # the same cached instance build_components() gets


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]


@pytest.fixture
def components(settings: Settings, embedder: SentenceTransformerEmbedder) -> Components:
    return build_components(settings)


@pytest.fixture
def pipeline(components: Components) -> IngestPipeline:
    return build_pipeline(components)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server (`chroma run`) on a free port."""
    chroma = shutil.which("chroma", path=str(BIN)) or shutil.which("chroma")
    assert chroma, "the chroma CLI comes with chromadb"
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    command = [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    with server_process(command, "/api/v2/heartbeat", port, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"}) as url:
        yield url


KNOWLEDGE = {
    "leave.txt": "Annual leave: full-time employees receive 25 days of paid annual leave per year. "
    "Leave requests are made in PeopleHub.",
    "robot.md": "# RX-200 errors\nError E09 means a charging fault: clean the charging contacts on the robot and dock.",
    "security.txt": "Passwords must be at least 14 characters long and are never reused.",
}


def ingest_knowledge(settings: Settings, collection: str = "kb1") -> None:
    """A small collection for API tests, ingested through the real pipeline."""
    from ingest.pipeline import Source

    pipeline = build_pipeline(build_components(settings))
    results = pipeline.ingest([Source.from_bytes(n, t.encode()) for n, t in KNOWLEDGE.items()], collection)
    assert all(r.status == "ingested" for r in results)


def api_client(settings: Settings):  # type: ignore[no-untyped-def]
    """A TestClient over the real app; use it as a context manager so start-up runs."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    return TestClient(create_app(settings), raise_server_exceptions=False)


@pytest.fixture
def live_server(tmp_path: Path, embedder: SentenceTransformerEmbedder):  # type: ignore[no-untyped-def]
    """Start the real app under uvicorn on a free port; yields a function (backend, settings changes) -> base URL."""
    import threading

    import uvicorn

    from api.app import create_app

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(backend: object = None, **changes: object) -> str:
        fields = {"data_dir": tmp_path / "data", "chat_base_url": "http://127.0.0.1:9/v1", **changes}
        settings = Settings(_env_file=None, **fields)  # type: ignore[arg-type]
        port = free_port()
        app = create_app(settings, backend)  # type: ignore[arg-type]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/openapi.json", timeout=300)  # start-up exports the ONNX encoder: slow when busy
        return url

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="session")
def llama_cpp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real llama.cpp server (llama-cpp-python's OpenAI-compatible server) on the packaged SmolLM2 GGUF.

    Yields the server's root URL (append `/v1` for an OpenAI base URL); its output goes to `server.log`
    in a temp dir, for debugging.
    """
    from rag.backends.local import default_gguf_path

    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-cpp-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", default_gguf_path(),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
    ]  # fmt: skip
    with server_process(command, "/v1/models", port, log_path) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A real PostgreSQL server (Debian's package, initdb/pg_ctl in a temp dir) for the whole session."""
    from tests.postgres import start_postgres

    server = start_postgres(free_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def database_url(postgres_server: Any) -> Iterator[str]:
    """A fresh, empty PostgreSQL database of the session's server."""
    from rag.storage.engine import close_database

    url: str = postgres_server.create_database()
    yield url
    close_database(url)  # the pool this process opened on it, if any
