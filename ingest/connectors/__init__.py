"""Connectors: where synced documents come from. `open_connector` picks one by kind: the built-in ones
(`folder`, `git`, `web`, `s3`) or a plugin's, registered under the entry-point group `rag.connectors` (a name pointing
at a `ConnectorFactory`, see base.py). Only the chosen connector's module is imported."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from ingest.connectors.base import Connector, ConnectorContext, ConnectorFactory, Item, SourceUnavailable
from rag.errors import InvalidInput

__all__ = ["Connector", "ConnectorContext", "Item", "SourceUnavailable", "connector_kinds", "open_connector"]

ENTRY_POINT_GROUP = "rag.connectors"
BUILT_IN = {
    "folder": "ingest.connectors.folder:FolderConnector",
    "git": "ingest.connectors.git:GitConnector",
    "web": "ingest.connectors.web:WebConnector",
    "s3": "ingest.connectors.s3:S3Connector",
}


def connector_kinds() -> list[str]:
    """Every kind a source may have: the built-in ones and those installed plugins add."""
    return sorted({*BUILT_IN, *(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))})


def open_connector(kind: str, location: str, options: dict[str, Any], context: ConnectorContext) -> Connector:
    return _factory(kind)(location, options, context)


def _factory(kind: str) -> ConnectorFactory:
    if kind in BUILT_IN:
        module, _, name = BUILT_IN[kind].partition(":")
        factory: ConnectorFactory = getattr(importlib.import_module(module), name)
        return factory
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == kind:
            loaded: ConnectorFactory = entry.load()
            return loaded
    raise InvalidInput(f"unknown source kind {kind!r}: one of {', '.join(connector_kinds())}")
