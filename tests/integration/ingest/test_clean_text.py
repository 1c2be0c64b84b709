"""What answers quote is clean text: a real Markdown page and a real PDF with running headers, footers, page
numbers and a contents page go through the real pipeline and answerer; quotes hold none of it, page numbers
and offsets stay right, and the cited PDF page still gets its quote outlined."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import load_bytes
from ingest.pipeline import Source
from ingest.service import build_pipeline
from rag.config import Settings
from rag.retrieval.components import build_components
from tests.conftest import api_client

MARKDOWN = Path(__file__).resolve().parents[2] / "data" / "clean" / "it-accounts.md"
MARKUP = ("{%", "](", "**", "#", "|", "<", "`")
BODY = {
    2: "Charging. The robot charges its battery on the dock in four hours. A full battery cleans for two hours.",
    3: "Cleaning. Empty the dust bin after every run. Wash the filter under cold water once a month.",
    4: "Errors. Error E42 means the left wheel is blocked by a cable or a sock. Lift the robot and free the wheel.",
}
FURNITURE = ("RX-9 Owner's Manual", "ACME Robotics", ". . . .")


def manual_pdf() -> bytes:
    """Four pages: a contents page with dot leaders, then the body; every page has a running header with
    its page number and a footer with the company name and the bare page number."""
    from fpdf import FPDF

    class Manual(FPDF):
        def header(self) -> None:
            self.set_font("Helvetica", size=9)
            self.cell(0, 8, f"RX-9 Owner's Manual 2.3 - page {self.page_no()}", new_x="LMARGIN", new_y="NEXT")

        def footer(self) -> None:
            self.set_y(-20)
            self.set_font("Helvetica", size=9)
            self.cell(0, 6, "ACME Robotics", new_x="LMARGIN", new_y="NEXT")
            self.cell(0, 6, str(self.page_no()))

    pdf = Manual()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    contents = "Contents\n1 Charging . . . . . . . . . 2\n2 Cleaning . . . . . . . . . 3\n3 Errors.......... 4"
    pdf.multi_cell(0, 6, contents)
    for page in (2, 3, 4):
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, BODY[page])
    return bytes(pdf.output())


@pytest.fixture
def extract_settings(tmp_path: Path, embedder) -> Settings:  # type: ignore[no-untyped-def]
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", answer_mode="extract")  # type: ignore[call-arg]
    pipeline = build_pipeline(build_components(settings))
    sources = [Source.from_bytes("manual.pdf", manual_pdf()), Source.from_bytes("accounts.md", MARKDOWN.read_bytes())]
    assert [r.status for r in pipeline.ingest(sources, "docs")] == ["ingested", "ingested"]
    return settings


def ask(client, question: str) -> tuple[dict, list[dict]]:  # type: ignore[no-untyped-def]
    response = client.post("/v1/query", json={"question": question, "collection": "docs"})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["citations"], data
    return data, [data["sources"][c["n"] - 1] for c in data["citations"]]


def test_a_markdown_answer_quotes_plain_text(extract_settings: Settings) -> None:
    with api_client(extract_settings) as client:
        data, sources = ask(client, "How often must I change my network password?")
        chunks = client.get("/v1/collections/docs/documents/accounts.md/chunks").json()["chunks"]
    assert sources[0]["filename"] == "accounts.md"
    assert any("every 90 days" in c["quote"] for c in data["citations"])
    for text in [c["quote"] for c in data["citations"]] + [c["text"] for c in chunks]:
        assert not any(mark in text for mark in MARKUP), text
    whole = "\n".join(c["text"] for c in chunks)
    assert whole.startswith("Accounts & passwords")  # the front matter's title, not its YAML
    assert "System: Payroll; Sign-in: Network password" in whole and "reset.example.org" in whole
    assert "Last reviewed" not in whole and "TODO" not in whole and "https://" not in whole


def test_a_pdf_answer_quotes_no_page_furniture_and_its_page_is_outlined(extract_settings: Settings) -> None:
    with api_client(extract_settings) as client:
        data, sources = ask(client, "What does error E42 mean?")
        chunks = client.get("/v1/collections/docs/documents/manual.pdf/chunks").json()["chunks"]
        quote = next(c["quote"] for c in data["citations"] if "E42" in c["quote"])
        image = client.get("/v1/collections/docs/documents/manual.pdf/pages/4.png", params={"highlight": quote})
    assert (sources[0]["filename"], sources[0]["page"]) == ("manual.pdf", 4)
    assert int(image.headers["x-highlighted-boxes"]) >= 1
    for text in [c["quote"] for c in data["citations"]] + [c["text"] for c in chunks]:
        assert not any(mark in text for mark in FURNITURE), text
    # Page numbers are the PDF's; offsets point into the page text that was chunked.
    pages = load_bytes("manual.pdf", manual_pdf(), 10_000_000).pages
    assert {c["page"] for c in chunks} == {1, 2, 3, 4}
    for chunk in chunks:
        assert pages[chunk["page"] - 1].text[chunk["start_char"] : chunk["end_char"]] == chunk["text"]
        if chunk["page"] > 1:
            assert chunk["text"].startswith(BODY[chunk["page"]][:30]) and not chunk["text"].rstrip()[-1].isdigit()
    assert next(c["text"] for c in chunks if c["page"] == 1) == "Contents"
