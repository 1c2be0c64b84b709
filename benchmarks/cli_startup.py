"""Start-up time of the `rag` commands that should feel instant: `--help`, `docs list`, `collections list`.

Prints the median wall time and CPU time (user + system, of the child process) over a few runs, on a
throw-away data dir holding one small collection. Usage: .venv/bin/python benchmarks/cli_startup.py [RUNS]
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAG = str(Path(sys.executable).parent / "rag")
COMMANDS = (["--help"], ["docs", "list", "-c", "bench"], ["collections", "list"])


def run_once(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of the CLI."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([RAG, *args], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "RAG_DATA_DIR": str(Path(tmp) / "data")}
        note = Path(tmp) / "note.txt"
        note.write_text("A short note so that the collection exists.")
        subprocess.run([RAG, "ingest", str(note), "-c", "bench"], env=env, check=True, capture_output=True)
        print(f"load average {os.getloadavg()[0]:.1f}, {runs} runs each, medians")
        for args in COMMANDS:
            samples = [run_once(args, env) for _ in range(runs)]
            wall = statistics.median(s[0] for s in samples)
            cpu = statistics.median(s[1] for s in samples)
            print(f"rag {' '.join(args):<22} wall {wall:5.2f} s   cpu {cpu:5.2f} s")


if __name__ == "__main__":
    main()
