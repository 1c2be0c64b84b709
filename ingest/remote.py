"""Writes sent to the server that owns the data directory, over its HTTP API (see ingest/ownership.py).

A CLI command that finds `rag serve` running on its data directory must not open embedded Chroma
itself: the server would never see those vectors. It uploads the files instead, in batches, and
follows the jobs the big batches become; the results come back as the local pipeline's would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from ingest.pipeline import FileResult, Source
from rag.errors import RagError

BATCH_FILES = 100
BATCH_BYTES = 64 * 1024 * 1024  # per upload request: big enough to keep the server busy, small enough for memory
JOB_POLL_S = 0.5
START_WAIT_S = 600.0  # a server owns its directory from the moment it starts, before its models are loaded


class ServerError(RagError):
    """The owning server refused or could not be reached."""


class RemoteWriter:
    def __init__(self, url: str, api_key: str | None = None, timeout: float = 600.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        self._ready = False

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_WAIT_S
        while not self._ready:
            try:
                self.client.get("/health")
                self._ready = True
            except httpx.TransportError as exc:
                if time.monotonic() > deadline:
                    raise ServerError(f"the server at {self.url} did not answer: {exc}") from exc
                time.sleep(0.5)

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        self._wait_until_up()
        try:
            return self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServerError(f"the server at {self.url} did not answer: {exc}") from exc

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            error = ServerError(_message(response))
            error.status_code = response.status_code
            raise error
        return response

    def ingest(
        self, sources: Sequence[Source], collection: str, progress: Callable[[FileResult], None] | None = None
    ) -> list[FileResult]:
        """Upload every source (the server skips unchanged ones); results in input order."""
        created = self._call("POST", "/v1/collections", json={"name": collection})
        if created.status_code != 409:  # 409: it exists already
            self._check(created)
        results: list[FileResult] = []
        for batch in _batches(sources):
            done = self._upload(batch, collection, progress)
            results.extend(done)
        return results

    def _upload(
        self, batch: list[Source], collection: str, progress: Callable[[FileResult], None] | None
    ) -> list[FileResult]:
        files = [("files", (s.filename, s.read(), "application/octet-stream")) for s in batch]
        ids = {"document_id": [s.document_id or s.filename for s in batch]}  # one per file, in order
        response = self._call("POST", f"/v1/collections/{quote(collection)}/documents", files=files, data=ids)
        if response.status_code == 202:
            return self._follow(response.json()["job_id"], progress)
        if response.status_code >= 400 and len(batch) == 1:  # a lone file's failure comes as an error response
            source = batch[0]
            failed = FileResult(
                source.filename, source.document_id or source.filename, "failed",
                reason=_message(response), status_code=response.status_code,
            )  # fmt: skip
            results = [failed]
        else:
            results = [_result(r) for r in self._check(response).json()["results"]]
        for result in results:
            if progress:
                progress(result)
        return results

    def _follow(self, job_id: str, progress: Callable[[FileResult], None] | None) -> list[FileResult]:
        """Poll the job until it ends, reporting each file as the server finishes it."""
        reported = 0
        while True:
            job = self._check(self._call("GET", f"/v1/jobs/{job_id}")).json()
            for raw in job["results"][reported:]:
                if progress:
                    progress(_result(raw))
            reported = max(reported, len(job["results"]))
            if job["status"] == "done":
                return [_result(r) for r in job["results"]]
            if job["status"] in ("failed", "cancelled"):
                raise ServerError(f"job {job_id} {job['status']} on the server: {job['error']}")
            time.sleep(JOB_POLL_S)

    def sync_source(
        self, collection: str, source_id: str, progress: Callable[[FileResult], None] | None = None
    ) -> dict[str, Any]:
        """Start a sync on the server, follow its job to the end; the source's status after it."""
        path = f"/v1/collections/{quote(collection)}/sources/{quote(source_id)}"
        started = self._check(self._call("POST", f"{path}/sync")).json()
        self._follow(started["job_id"], progress)
        return dict(self._check(self._call("GET", path)).json())

    def remove_source(self, collection: str, source_id: str, keep_documents: bool) -> None:
        path = f"/v1/collections/{quote(collection)}/sources/{quote(source_id)}"
        self._check(self._call("DELETE", path, params={"keep_documents": str(keep_documents).lower()}))

    def delete_document(self, collection: str, document_id: str) -> None:
        self._check(self._call("DELETE", f"/v1/collections/{quote(collection)}/documents/{quote(document_id)}"))

    def delete_collection(self, collection: str) -> None:
        self._check(self._call("DELETE", f"/v1/collections/{quote(collection)}"))


def _batches(sources: Sequence[Source]) -> list[list[Source]]:
    batches: list[list[Source]] = [[]]
    size = 0
    for source in sources:
        if batches[-1] and (len(batches[-1]) >= BATCH_FILES or size + source.size > BATCH_BYTES):
            batches.append([])
            size = 0
        batches[-1].append(source)
        size += source.size
    return [b for b in batches if b]


def _result(raw: dict[str, Any]) -> FileResult:
    return FileResult(**{k: raw.get(k) for k in ("filename", "document_id", "status", "chunks", "pages", "reason",
                                                  "status_code")})  # fmt: skip


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {response.text[:200]}"
