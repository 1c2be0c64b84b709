"""`rag config`: the effective settings and where each came from."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from cli.common import JsonOption, console
from rag.config import get_settings


def register(app: typer.Typer) -> None:
    app.command("config")(show_config)


def show_config(as_json: JsonOption = False) -> None:
    """Show the effective settings and where each came from (env, .env, config file, default); keys masked."""
    from rag.config import user_config_file
    from rag.settings_report import describe_settings

    rows = describe_settings(get_settings())
    path = user_config_file()
    if as_json:
        settings = {r.variable: {"value": r.value, "origin": r.origin} for r in rows}
        print(json.dumps({"config_file": str(path), "config_file_exists": path.is_file(), "settings": settings}))
        return
    console.print(f"config file: {path}" + ("" if path.is_file() else " (none)"), highlight=False)
    table = Table("setting", "value", "from")
    for r in rows:
        table.add_row(r.variable, "" if r.value is None else str(r.value), r.origin)
    console.print(table)
