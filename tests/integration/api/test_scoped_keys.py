"""Scoped API keys over real HTTP, for every route of the app (read from its OpenAPI document, so a new route
is covered, or makes these tests fail until it is given a sample request): readers cannot write (403), a key
answers about a collection outside its scope exactly as about one that does not exist, listings are filtered,
RAG_API_KEYS stays admin, and `rag keys` creates, lists and revokes keys a running server obeys at once."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from rag.config import Settings
from rag.storage.keys.sqlite import SqliteKeyStore
from tests.conftest import ROOT, free_port, ingest_knowledge, wait_for_http
from tests.fakes import fake_openai_server
from tests.integration.backends.test_api_backends import assert_contract

ADMIN_ENV_KEY = "admin-from-env"
IN_SCOPE, OUT_OF_SCOPE, MISSING = "hr", "finance", "no-such-collection"
MISSING_JOB = "0" * 32
DOCUMENT = "leave.txt"  # ingested in hr and finance
# Written down here, not read from the implementation: the routes a reader must not use, and the admin's.
WRITES = {
    ("POST", "/v1/collections"),
    ("DELETE", "/v1/collections/{name}"),
    ("POST", "/v1/collections/{name}/documents"),
    ("DELETE", "/v1/collections/{name}/documents/{document_id}"),
    ("POST", "/v1/collections/{name}/sources"),
    ("DELETE", "/v1/collections/{name}/sources/{source_id}"),
    ("POST", "/v1/collections/{name}/sources/{source_id}/sync"),
    ("GET", "/v1/collections/{name}/insights"),  # other users' questions
}
ADMIN_ONLY = {("GET", "/metrics"), ("GET", "/v1/collections/{name}/export"), ("POST", "/v1/imports")}
OPEN = {("GET", "/health")}
QUESTION = "How many days of annual leave do full-time employees get?"


def sample_json(method: str, path: str, collection: str) -> dict[str, Any] | None:
    """A valid body for each route that takes one, naming `collection` where the route can; KeyError for a new
    route, on purpose: give it a sample here."""
    chat = {"model": "rag", "messages": [{"role": "user", "content": QUESTION}], "collection": collection}
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/v1/search"): {"query": "annual leave", "collection": collection},
        ("POST", "/v1/query"): {"question": QUESTION, "collection": collection},
        ("POST", "/v1/collections"): {"name": collection},
        ("POST", "/v1/collections/{name}/documents"): {"text": "Parking is free on Fridays.", "filename": "p.txt"},
        ("POST", "/v1/chat/completions"): chat,
        ("POST", "/v1/completions"): {"model": "rag", "prompt": QUESTION, "collection": collection},
        ("POST", "/v1/embeddings"): {"model": "rag", "input": "annual leave"},
        ("POST", "/v1/summarize"): {"document_id": DOCUMENT, "collection": collection},
        ("POST", "/v1/collections/{name}/sources"): {"kind": "git", "location": "https://example.invalid/docs.git"},
        ("POST", "/v1/answers/{answer_id}/feedback"): {"rating": "up"},
        ("POST", "/v1/imports"): {},  # a tar archive, in truth: an admin's route, refused before it is read
    }
    return bodies[(method, path)]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the OpenAPI template
    has_body: bool

    @property
    def names_collection(self) -> bool:
        if "{name}" in self.path or self.path == "/v1/jobs/{job_id}":
            return True
        return self.has_body and "@@" in json.dumps(sample_json(self.method, self.path, "@@"))

    def send(self, client: httpx.Client, key: str, collection: str, job_id: str = MISSING_JOB,
             document_id: str = DOCUMENT) -> httpx.Response:  # fmt: skip
        url = (
            self.path.replace("{name}", collection).replace("{document_id}", document_id)
            .replace("{page}", "1").replace("{job_id}", job_id).replace("{source_id}", "src-missing")
        )  # fmt: skip
        body = sample_json(self.method, self.path, collection) if self.has_body else None
        headers = {"Authorization": f"Bearer {key}"}
        return client.request(self.method, url, json=body, headers=headers)


@dataclass
class ScopedServer:
    url: str
    keys: dict[str, str]  # role name -> key: reader (hr), writer (hr, scratch), other-reader (finance)
    finance_job: str
    operations: list[Operation]
    app_routes: set[tuple[str, str]]


def _start(settings: Settings) -> tuple[str, Callable[[], None]]:
    import uvicorn

    from api.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/health", timeout=300)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=60)

    return url, stop


@pytest.fixture(scope="module")
def scoped(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Iterator[ScopedServer]:
    data = tmp_path_factory.mktemp("scoped") / "data"
    with fake_openai_server(reply="Full-time employees get 25 days of annual leave [1].") as fake:
        settings = Settings(
            _env_file=None, data_dir=data, chat_base_url=fake.base_url, chat_model="llama-test",  # type: ignore[call-arg]
            api_keys=ADMIN_ENV_KEY, sync_upload_files=0, default_collection=OUT_OF_SCOPE,
            source_hosts="example.invalid",  # the git source the writer adds (its sync fails: no network)
        )  # fmt: skip
        for name in (IN_SCOPE, OUT_OF_SCOPE, "scratch"):
            ingest_knowledge(settings, name)
        store = SqliteKeyStore(settings.keys_db)
        keys = {
            "reader": store.create("hr-reader", "reader", frozenset({IN_SCOPE})),
            "writer": store.create("hr-writer", "writer", frozenset({IN_SCOPE, "scratch"})),
            "finance-reader": store.create("finance-reader", "reader", frozenset({OUT_OF_SCOPE})),
        }
        store.close()
        url, stop = _start(settings)
        try:
            with httpx.Client(base_url=url, timeout=300) as client:
                admin = {"Authorization": f"Bearer {ADMIN_ENV_KEY}"}
                files = {"files": ("memo.txt", b"Finance closes the books on the 5th.")}
                job = client.post(f"/v1/collections/{OUT_OF_SCOPE}/documents", files=files, headers=admin)
                assert job.status_code == 202, job.text
                schema = client.get("/openapi.json", headers=admin).json()
            operations = [
                Operation(method.upper(), path, "requestBody" in op)
                for path, ops in schema["paths"].items()
                for method, op in ops.items()
            ]
            yield ScopedServer(url, keys, job.json()["job_id"], operations, _app_routes(settings))
        finally:
            stop()


def _app_routes(settings: Settings) -> set[tuple[str, str]]:
    from api.app import create_app

    app = create_app(settings)
    return {
        (method, re.sub(r":\w+}", "}", route.path))
        for route in app.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods
    }


def _same_answer(a: httpx.Response, b: httpx.Response, a_name: str, b_name: str) -> bool:
    if a.status_code != b.status_code:
        return False
    if a.status_code < 400:
        return True
    ea, eb = a.json()["error"], b.json()["error"]
    return ea["code"] == eb["code"] and ea["message"].replace(a_name, "@") == eb["message"].replace(b_name, "@")


def test_the_matrix_covers_every_route_of_the_app(scoped: ScopedServer) -> None:
    documented = {(o.method, o.path) for o in scoped.operations}
    assert scoped.app_routes <= documented  # no API route hides from the OpenAPI document, hence from these tests
    for op in scoped.operations:
        if op.has_body:
            sample_json(op.method, op.path, IN_SCOPE)  # a new route with a body needs a sample above


def test_a_reader_gets_403_on_every_write_and_on_metrics_and_nothing_else(scoped: ScopedServer) -> None:
    wrong = []
    with httpx.Client(base_url=scoped.url, timeout=300) as client:
        for op in scoped.operations:
            response = op.send(client, scoped.keys["reader"], IN_SCOPE, document_id="not-there.txt")
            forbidden = (op.method, op.path) in WRITES | ADMIN_ONLY
            if forbidden:
                error = assert_contract(response, 403)
                needed = "admin" if (op.method, op.path) in ADMIN_ONLY else "writer"
                assert f"needs the {needed} role" in error["message"] and "hr-reader" in error["message"]
                assert error["type"] == "permission_error"
            elif response.status_code in (401, 403):
                wrong.append((op.method, op.path, response.status_code, response.text[:200]))
    assert not wrong, f"a reader was refused a route that only reads: {wrong}"


def test_the_openapi_document_shows_403_exactly_where_a_role_is_needed(scoped: ScopedServer) -> None:
    with httpx.Client(base_url=scoped.url, timeout=60) as client:
        schema = client.get("/openapi.json", headers={"Authorization": f"Bearer {scoped.keys['reader']}"}).json()
    with_403 = {
        (m.upper(), p) for p, ops in schema["paths"].items() for m, op in ops.items() if "403" in op["responses"]
    }
    assert with_403 == WRITES | ADMIN_ONLY
    assert "writer role" in schema["paths"]["/v1/collections"]["post"]["responses"]["403"]["description"]


def test_outside_its_scope_a_key_gets_the_answer_of_a_collection_that_does_not_exist(scoped: ScopedServer) -> None:
    """Every route naming a collection, for the role allowed to use it: `finance` (exists, out of scope) and a
    name that exists nowhere answer alike (status, code, message), while `hr` (in scope) is served."""
    differ, checked = [], 0
    with httpx.Client(base_url=scoped.url, timeout=300) as client:
        for op in scoped.operations:
            if not op.names_collection or (op.method, op.path) in ADMIN_ONLY:
                continue
            key = scoped.keys["writer" if (op.method, op.path) in WRITES else "reader"]
            if op.path == "/v1/jobs/{job_id}":
                outside = op.send(client, key, IN_SCOPE, job_id=scoped.finance_job)
                nowhere = op.send(client, key, IN_SCOPE, job_id=MISSING_JOB)
                names = (scoped.finance_job, MISSING_JOB)
            else:
                outside, nowhere = op.send(client, key, OUT_OF_SCOPE), op.send(client, key, MISSING)
                names = (OUT_OF_SCOPE, MISSING)
            checked += 1
            if not _same_answer(outside, nowhere, *names) or outside.status_code not in (403, 404):
                differ.append((op.method, op.path, outside.status_code, outside.text[:200], nowhere.text[:200]))
    assert not differ, f"out of scope is not answered like nonexistent: {differ}"
    assert checked >= 14


def test_inside_its_scope_a_key_is_served(scoped: ScopedServer) -> None:
    refused = []
    with httpx.Client(base_url=scoped.url, timeout=300) as client:
        for op in scoped.operations:
            if not op.names_collection or op.path == "/v1/jobs/{job_id}" or (op.method, op.path) in ADMIN_ONLY:
                continue
            writes = (op.method, op.path) in WRITES
            # Deletions aim at what may go: the scratch collection, a document that is not there.
            collection = "scratch" if op.path == "/v1/collections/{name}" and op.method == "DELETE" else IN_SCOPE
            document = "not-there.txt" if op.method == "DELETE" else DOCUMENT
            response = op.send(client, scoped.keys["writer" if writes else "reader"], collection, document_id=document)
            if response.status_code in (401, 403) or f"collection {collection!r} not found" in response.text:
                refused.append((op.method, op.path, response.status_code, response.text[:200]))
    assert not refused, f"a key was refused its own collection: {refused}"


def test_listings_show_only_what_the_key_sees_and_env_keys_see_everything(scoped: ScopedServer) -> None:
    with httpx.Client(base_url=scoped.url, timeout=60) as client:

        def names(key: str) -> set[str]:
            response = client.get("/v1/collections", headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 200, response.text
            return {c["name"] for c in response.json()["collections"]}

        assert names(scoped.keys["reader"]) == {IN_SCOPE}
        assert names(scoped.keys["finance-reader"]) == {OUT_OF_SCOPE}
        assert {IN_SCOPE, OUT_OF_SCOPE} <= names(ADMIN_ENV_KEY)
        admin = {"Authorization": f"Bearer {ADMIN_ENV_KEY}"}
        assert client.get("/metrics", headers=admin).status_code == 200
        assert client.get(f"/v1/jobs/{scoped.finance_job}", headers=admin).status_code == 200
        finance = {"Authorization": f"Bearer {scoped.keys['finance-reader']}"}
        assert client.get(f"/v1/jobs/{scoped.finance_job}", headers=finance).status_code == 200


def test_the_default_collection_is_scoped_too(scoped: ScopedServer) -> None:
    """/v1/chat/completions and /v1/completions without `collection` use RAG_DEFAULT_COLLECTION (finance here)."""
    with httpx.Client(base_url=scoped.url, timeout=300) as client:
        reader = {"Authorization": f"Bearer {scoped.keys['reader']}"}
        messages = [{"role": "user", "content": QUESTION}]
        chat = client.post("/v1/chat/completions", json={"model": "rag", "messages": messages}, headers=reader)
        legacy = client.post("/v1/completions", json={"model": "rag", "prompt": QUESTION}, headers=reader)
        for response in (chat, legacy):
            assert assert_contract(response, 404)["message"] == f"collection {OUT_OF_SCOPE!r} not found"
        finance = {"Authorization": f"Bearer {scoped.keys['finance-reader']}"}
        answered = client.post("/v1/chat/completions", json={"model": "rag", "messages": messages}, headers=finance)
        assert answered.status_code == 200 and "25 days" in answered.json()["choices"][0]["message"]["content"]


def _database_dump(path: Path) -> str:
    """Through SQLite: reading the file directly would drop this process's locks on it, the server's included
    (POSIX locks belong to the process), and the CLI's next write would then pull its WAL from under it."""
    with closing(sqlite3.connect(path)) as db:
        return "\n".join(db.iterdump())


def _rag(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "RAG_DATA_DIR": str(data_dir), "RAG_API_KEYS": "", **env}
    command = [sys.executable, "-m", "cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300, cwd=ROOT)


@pytest.mark.slow
def test_rag_keys_create_list_revoke_against_a_running_server(live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """No RAG_API_KEYS: the server is open until `rag keys create`, then asks for keys; a revoked key gets
    401 on the very next request, with the server still running."""
    data = tmp_path / "data"
    ingest_knowledge(Settings(_env_file=None, data_dir=data), IN_SCOPE)  # type: ignore[call-arg]
    url = live_server()
    with httpx.Client(base_url=url, timeout=120) as client:
        assert client.get("/v1/collections").status_code == 200  # no key anywhere: open, as before

        created = _rag(data, "keys", "create", "alice", "--role", "reader", "--collections", IN_SCOPE)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        assert key.startswith("rag_") and "only time" in created.stderr
        assert key not in _database_dump(data / "keys.sqlite")  # stored as a digest only

        assert_contract(client.get("/v1/collections"), 401)  # a stored key turns auth on at once
        alice = {"Authorization": f"Bearer {key}"}
        assert [c["name"] for c in client.get("/v1/collections", headers=alice).json()["collections"]] == [IN_SCOPE]
        upload = client.post(f"/v1/collections/{IN_SCOPE}/documents", json={"text": "x"}, headers=alice)
        assert "writer" in assert_contract(upload, 403)["message"]

        as_json = _rag(data, "keys", "create", "bob", "--role", "writer", "--json")
        bob = json.loads(as_json.stdout)
        assert bob["role"] == "writer" and bob["collections"] is None and bob["key"].startswith("rag_")
        duplicate = _rag(data, "keys", "create", "alice")
        assert duplicate.returncode != 0 and "exists already" in duplicate.stderr
        assert _rag(data, "keys", "create", "carol", "--role", "boss").returncode != 0

        listed = _rag(data, "keys", "list", "--json")
        records = {r["name"]: r for r in json.loads(listed.stdout)}
        assert records["alice"]["collections"] == [IN_SCOPE] and records["bob"]["collections"] is None
        assert key not in listed.stdout and bob["key"] not in listed.stdout
        table = _rag(data, "keys", "list")
        assert "alice" in table.stdout and "reader" in table.stdout and key not in table.stdout

        revoked = _rag(data, "keys", "revoke", "alice")
        assert revoked.returncode == 0, revoked.stderr
        assert_contract(client.get("/v1/collections", headers=alice), 401)  # the next request: no cache to expire
        assert client.get("/v1/collections", headers={"Authorization": f"Bearer {bob['key']}"}).status_code == 200
        unknown = _rag(data, "keys", "revoke", "alice")
        assert unknown.returncode != 0 and "no key named" in unknown.stderr

        assert _rag(data, "keys", "revoke", "bob").returncode == 0
        assert_contract(client.get("/v1/collections"), 401)  # every key revoked: the server stays closed
        again = _rag(data, "keys", "create", "alice", "--role", "reader", "--json")  # a revoked name is free
        assert again.returncode == 0, again.stderr
        renewed = {"Authorization": f"Bearer {json.loads(again.stdout)['key']}"}
        assert client.get("/v1/collections", headers=renewed).status_code == 200
