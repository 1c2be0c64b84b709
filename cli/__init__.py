"""The `rag` command line (cli/main.py registers one module per command group); it may import api, ingest, rag.

`main` is re-exported so that `cli:main`, the entry point of installs made before the package, still runs.
"""

from cli.main import main

__all__ = ["main"]
