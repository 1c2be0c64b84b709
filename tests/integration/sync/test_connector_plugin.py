"""A connector from a separate package: a real distribution (a module and its .dist-info with an entry point
in the `rag.connectors` group) on the import path, found by kind, synced like a built-in one."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from ingest.connectors import connector_kinds
from ingest.jobs.sync_jobs import run_sync
from ingest.pipeline import IngestPipeline
from rag.storage.sources import SourceRecord, open_source_store

PLUGIN = '''
"""A tiny connector: a JSON file mapping names to texts stands in for a wiki's API."""
import hashlib, json
from pathlib import Path
from ingest.connectors.base import Item

class WikiConnector:
    def __init__(self, location, options, context):
        self.pages = json.loads(Path(location).read_text())
        self.cursor = None

    def list_items(self):
        for name, text in self.pages.items():
            yield Item(f"{name}.md", hashlib.sha256(text.encode()).hexdigest(), len(text), f"https://wiki.example/{name}")

    def read(self, item):
        return self.pages[item.key.removesuffix(".md")].encode()
'''


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site-packages"
    (site / "rag_wiki_connector-0.1.dist-info").mkdir(parents=True)
    (site / "rag_wiki_connector.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "rag_wiki_connector-0.1.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rag-wiki-connector\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[rag.connectors]\nwiki = rag_wiki_connector:WikiConnector\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "rag_wiki_connector", raising=False)


def test_a_plugin_kind_is_found_by_its_entry_point_and_synced(
    installed_plugin: None, pipeline: IngestPipeline, tmp_path: Path
) -> None:
    assert "wiki" in connector_kinds() and {"folder", "git"} <= set(connector_kinds())
    pages = tmp_path / "wiki.json"
    pages.write_text('{"onboarding": "New staff get a laptop on their first day.", "vpn": "Use the VPN abroad."}')
    store = open_source_store(pipeline.settings)
    store.add(SourceRecord("src-wiki", "kb", "wiki", str(pages), {}, created_at="2026-01-01"))
    report = run_sync(store.get("src-wiki"), pipeline, store)  # type: ignore[arg-type]
    assert report.counts["added"] == 2
    documents = {d.document_id: d.metadata["origin"] for d in pipeline.registry.documents("kb")}
    assert documents == {"src-wiki/onboarding.md": "https://wiki.example/onboarding",
                         "src-wiki/vpn.md": "https://wiki.example/vpn"}  # fmt: skip
    pages.write_text('{"onboarding": "New staff get a laptop on their first day."}')
    assert run_sync(store.get("src-wiki"), pipeline, store).counts["removed"] == 1  # type: ignore[arg-type]
