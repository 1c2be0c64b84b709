"""Builders of hostile inputs, shared by the limit tests and benchmarks/pathological.py: decompression bombs,
multipart bodies streamed without a length, raw requests that promise more than they send."""

from __future__ import annotations

import io
import socket
import zipfile
from collections.abc import Iterator

PIECE = 64 * 1024


def docx_with_body(body_xml: str) -> bytes:
    """A real .docx (python-docx's template) whose document body is `body_xml`, deflated."""
    import docx

    template = io.BytesIO()
    docx.Document().save(template)
    source = zipfile.ZipFile(io.BytesIO(template.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for member in source.infolist():
            data = source.read(member.filename)
            if member.filename == "word/document.xml":
                head, rest = data.decode().split("<w:body>", 1)
                data = f"{head}<w:body>{body_xml}</w:body>{rest.split('</w:body>', 1)[1]}".encode()
            target.writestr(member.filename, data)
    return out.getvalue()


def paragraph_bomb(paragraphs: int) -> bytes:
    """Tens of KB that unpack to `paragraphs` one-word paragraphs (python-docx: ~0.1 ms each)."""
    return docx_with_body("<w:p><w:r><w:t>word</w:t></w:r></w:p>" * paragraphs)


def size_bomb(unpacked_bytes: int) -> bytes:
    """A .docx of ~0.1% of `unpacked_bytes` whose one paragraph unpacks to that much XML text."""
    return docx_with_body(f"<w:p><w:r><w:t>{'a' * unpacked_bytes}</w:t></w:r></w:p>")


def multipart(files: list[tuple[str, int]], boundary: str = "hostileboundary") -> tuple[str, Iterator[bytes]]:
    """(content type, body pieces) of a multipart upload of files of the given sizes, made as it is sent:
    a generator body makes httpx use chunked transfer encoding, without a Content-Length."""

    def pieces() -> Iterator[bytes]:
        for name, size in files:
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                "Content-Type: text/plain\r\n\r\n"
            ).encode()
            line = b"All work and no play makes a dull day. "
            block = (line * (PIECE // len(line) + 1))[:PIECE]
            for start in range(0, size, PIECE):
                yield block[: min(PIECE, size - start)]
            yield b"\r\n"
        yield f"--{boundary}--\r\n".encode()

    return f"multipart/form-data; boundary={boundary}", pieces()


class CountingBody:
    """A generator body that counts what the client got to send before the server stopped reading."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self.pieces = pieces
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            self.sent += len(piece)
            yield piece


def promise_length(url: str, path: str, content_type: str, declared: int, sent: bytes, timeout: float) -> bytes:
    """Send headers declaring `declared` bytes but only `sent` of them, then read what the server answers.
    A server that waits for the whole body answers nothing before `timeout` (socket.timeout)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as conn:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {declared}\r\n\r\n"
        )
        conn.sendall(head.encode() + sent)
        answer = b""
        while b"\r\n\r\n" not in answer or not _complete(answer):
            piece = conn.recv(65536)
            if not piece:
                break
            answer += piece
        return answer


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False
