"""Server mode (RAG_CHROMA_URL) behaves like the embedded store, against a real `chroma run`."""

from __future__ import annotations

from pathlib import Path

from ingest.pipeline import Source
from ingest.service import build_pipeline
from rag.config import Settings
from rag.retrieval.components import build_components
from tests.conftest import make_pdf


def test_ingest_replace_and_delete_through_a_chroma_server(chroma_server: str, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", chroma_url=chroma_server)  # type: ignore[call-arg]
    components = build_components(settings)
    assert components.store.heartbeat()
    pipeline = build_pipeline(components)
    pdf = make_pdf(["The lighthouse keeper lights the lamp at dusk.", "The ferry leaves at noon."])
    [result] = pipeline.ingest([Source.from_bytes("coast.pdf", pdf)], "remote")
    assert result.status == "ingested" and result.pages == 2
    assert settings.chroma_dir.exists() is False  # nothing embedded was created

    hits = components.store.query("remote", embedder.embed_query("when does the ferry leave"), 1)
    assert hits[0].metadata["page"] == 2 and hits[0].document_id == "coast.pdf"

    assert pipeline.ingest([Source.from_bytes("coast.pdf", pdf)], "remote")[0].status == "unchanged"
    pipeline.ingest([Source.from_bytes("coast.pdf", make_pdf(["The ferry is cancelled."]))], "remote")
    hits = components.store.query("remote", embedder.embed_query("ferry"), 10)
    [live] = components.keyword.document_chunks("remote", "coast.pdf")
    assert [h.chunk_id for h in hits] == [live.chunk_id] and live.text == "The ferry is cancelled."

    pipeline.delete_collection("remote")
    assert components.store.query("remote", embedder.embed_query("ferry"), 10) == []
