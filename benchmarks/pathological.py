"""Pathological inputs against every limit: wall time and peak memory on this machine.

1. **Unsplittable text** through `rag ingest` (a real process, fresh data dir): a 10 MB file on one line
   without whitespace, the same size on one line with spaces (a repeated phrase), and with
   ``--random-words`` one line of random words (encoder-bound: it holds ~2M distinct tokens). Printed:
   wall seconds (model loading included), the process's peak RSS, chunks and the longest chunk.
   Target: under 60 s and under 1 GB.
2. **.docx decompression bombs** through `rag ingest`: ~50 KB that unpack to 210,000 paragraphs, and
   ~120 KB that unpack to 120 MB of XML. Printed: seconds, peak RSS, the reason given.
3. **Bodies over HTTP** against `rag serve` (a real process, RAG_MAX_UPLOAD_BYTES=1 MB): a 60 MB chunked
   upload, a 200 MB JSON text that declares its Content-Length, a 50 MB JSON text under the limit (parsed,
   then refused for its metadata: the memory a JSON upload may take), a 50 MB `stop` string sent chunked.
   Printed: status, seconds to the answer, bytes the client got to send, the server's peak RSS
   (VmHWM) before and after.

Run from the repo root::

    .venv/bin/python benchmarks/pathological.py
    .venv/bin/python benchmarks/pathological.py --random-words --only text
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.conftest import free_port, server_process  # noqa: E402
from tests.hostile import CountingBody, multipart, paragraph_bomb, size_bomb  # noqa: E402

MB = 1024 * 1024
RAG = [sys.executable, "-c", "from cli.main import app; app()"]


def ingest(path: Path, data_dir: Path) -> dict[str, object]:
    """`rag ingest` one file in a fresh process: wall seconds, peak RSS (from wait4), the file's result."""
    env = {**os.environ, "RAG_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO_ROOT)}
    started = time.perf_counter()
    command = [*RAG, "ingest", str(path), "--collection", "bench", "--json"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=REPO_ROOT)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, _, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    result = json.loads(output)[0] if output.strip() else {"status": "crashed"}
    return {"seconds": round(seconds, 1), "peak_rss_mb": usage.ru_maxrss // 1024, **result}


def longest_chunk(data_dir: Path) -> int:
    import sqlite3

    with sqlite3.connect(data_dir / "keyword.sqlite") as conn:
        return int(conn.execute("SELECT max(length(text)) FROM chunks").fetchone()[0] or 0)


def text_cases(random_words: bool) -> dict[str, str]:
    cases = {
        "baseline: a 1 KB file (process start and model load)": "A short note about lighthouses. " * 32,
        "10 MB, one line, no whitespace": "A" * (10 * MB),
        "10 MB, one line, spaces (repeated phrase)": ("lorem ipsum dolor sit amet " * (10 * MB // 27 + 1))[: 10 * MB],
    }
    if random_words:
        rng = random.Random(0)
        words = [f"{rng.choice('abcdefghijklmnopqrstuvwxyz')}{rng.randint(0, 99999)}" for _ in range(10 * MB // 6)]
        cases["10 MB, one line, random words"] = " ".join(words)[: 10 * MB]
    return cases


def run_text(random_words: bool) -> None:
    print("## Unsplittable text (rag ingest, one process per file)")
    for name, text in text_cases(random_words).items():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "line.txt"
            path.write_text(text)
            result = ingest(path, Path(tmp) / "data")
            longest = longest_chunk(Path(tmp) / "data")
            print(f"- {name}: {result['status']} in {result['seconds']} s, peak RSS {result['peak_rss_mb']} MB,"
                  f" {result.get('chunks')} chunks, longest {longest:,} characters")  # fmt: skip


def run_docx() -> None:
    print("## .docx bombs (rag ingest)")
    for name, data in (("210,000 paragraphs", paragraph_bomb(210_000)), ("120 MB of XML", size_bomb(120 * MB))):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bomb.docx"
            path.write_bytes(data)
            result = ingest(path, Path(tmp) / "data")
            print(f"- {name} in {len(data):,} bytes: {result['status']} in {result['seconds']} s,"
                  f" peak RSS {result['peak_rss_mb']} MB: {result.get('reason')}")  # fmt: skip


def peak_rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return 0


def server_pid(port: int) -> int:
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True).stdout
    return int(out.split("pid=")[1].split(",")[0])


def send(client: httpx.Client, path: str, body: CountingBody | bytes, content_type: str) -> tuple[int, float, int]:
    started = time.perf_counter()
    try:
        status = client.post(path, content=body, headers={"content-type": content_type}).status_code
    except httpx.HTTPError as exc:
        status = -1
        print(f"  ({type(exc).__name__}: {exc})")
    sent = body.sent if isinstance(body, CountingBody) else len(body)
    return status, time.perf_counter() - started, sent


@contextmanager
def serve(**limits: int) -> Iterator[tuple[httpx.Client, int]]:
    """`rag serve` in a fresh data dir with the given RAG_* limits; yields a client and the server's pid."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {**os.environ, "RAG_DATA_DIR": str(Path(tmp) / "data"), "RAG_CHAT_BASE_URL": "http://127.0.0.1:9/v1",
               "PYTHONPATH": str(REPO_ROOT), **{f"RAG_{k.upper()}": str(v) for k, v in limits.items()}}  # fmt: skip
        command = [*RAG, "serve", "--port", str(port)]
        with server_process(command, "/openapi.json", port, env=env, cwd=REPO_ROOT) as url:
            with httpx.Client(base_url=url, timeout=600) as client:
                client.post("/v1/collections", json={"name": "bench"})
                pid = server_pid(port)
                print(f"- server peak RSS after start: {peak_rss_mb(pid)} MB")
                yield client, pid


def run_http() -> None:
    upload = "/v1/collections/bench/documents"
    print("## Bodies over HTTP (rag serve, RAG_MAX_UPLOAD_BYTES=1 MB, other limits default)")
    with serve(max_upload_bytes=MB) as (client, pid):
        content_type, pieces = multipart([("huge.txt", 60 * MB)])
        status, seconds, sent = send(client, upload, CountingBody(pieces), content_type)
        print(f"- 60 MB chunked upload: {status} after {seconds:.2f} s, {sent / MB:.1f} MB sent;"
              f" server peak RSS {peak_rss_mb(pid)} MB")  # fmt: skip
        payload = json.dumps({"question": "q", "collection": "bench", "stop": "x" * (50 * MB)}).encode()
        body = CountingBody(iter([payload[i : i + 65536] for i in range(0, len(payload), 65536)]))
        status, seconds, sent = send(client, "/v1/query", body, "application/json")
        print(f"- 50 MB `stop` string, chunked: {status} after {seconds:.2f} s, {sent / MB:.1f} MB sent;"
              f" server peak RSS {peak_rss_mb(pid)} MB")  # fmt: skip
    print("## JSON text uploads (rag serve, default limits: 50 MiB file + 1 MiB)")
    with serve() as (client, pid):
        text = b'{"text": "' + b"a" * (200 * MB) + b'"}'
        status, seconds, sent = send(client, upload, text, "application/json")
        print(f"- 200 MB JSON text with Content-Length: {status} after {seconds:.2f} s;"
              f" server peak RSS {peak_rss_mb(pid)} MB")  # fmt: skip
        text = b'{"text": "' + b"a" * (50 * MB) + b'", "metadata": {"x": {"nested": 1}}}'
        status, seconds, sent = send(client, upload, text, "application/json")
        print(f"- 50 MB JSON text (under the limit: parsed, then refused for its metadata): {status} after"
              f" {seconds:.2f} s; server peak RSS {peak_rss_mb(pid)} MB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--random-words", action="store_true", help="Also a 10 MB line of random words (slow).")
    parser.add_argument("--only", choices=["text", "docx", "http"], help="Run one group.")
    args = parser.parse_args()
    if args.only in (None, "text"):
        run_text(args.random_words)
    if args.only in (None, "docx"):
        run_docx()
    if args.only in (None, "http"):
        run_http()


if __name__ == "__main__":
    main()
