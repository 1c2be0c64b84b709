"""The `rag` command line: thin commands over the same services as the HTTP API, one module per group."""

from __future__ import annotations

import sys

import typer

import cli.ask
import cli.bundles
import cli.config
import cli.eval
import cli.insights
import cli.keys
import cli.library
import cli.serve
import cli.sources
import cli.summarize

app = typer.Typer(help="RAG question answering over your documents.", no_args_is_help=True)
# The order of registration is the order of `rag --help`.
GROUPS = (
    cli.library, cli.sources, cli.ask, cli.summarize, cli.eval, cli.insights, cli.bundles, cli.keys, cli.config,
    cli.serve,
)  # fmt: skip
for group in GROUPS:
    group.register(app)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
