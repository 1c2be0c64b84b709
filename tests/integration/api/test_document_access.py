"""Document-level access over real HTTP: a key created with a document filter (`--where department=hr,people`)
is served as if the collection held only the documents the filter admits. Every route of the app (read from
its OpenAPI document, so a new route is covered, or makes these tests fail until it is given a sample) is
driven with such a key on a collection whose hidden documents hold a unique word, and the word appears in no
response (body or header), in no prompt sent to the chat model, and no hidden document is told apart from one
that does not exist. The visible documents still answer: a search still gets its k results from them."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.pipeline import Source
from ingest.service import build_pipeline
from rag.access import parse_where
from rag.config import Settings
from rag.retrieval.components import build_components
from rag.storage.keys.sqlite import SqliteKeyStore
from tests.conftest import make_pdf
from tests.fakes import fake_openai_server
from tests.integration.api.test_scoped_keys import _rag, _start
from tests.integration.backends.test_api_backends import assert_contract
from tests.waiting import wait_until

MARKER = "quuxvault"  # in every hidden document's text, and in their names
ADMIN = "admin-from-env"
COLLECTION = "hr"
WHERE = ["department=hr,people"]
QUESTION = "How many days of annual leave do full-time employees get?"
HR, PEOPLE = {"department": "hr"}, {"department": "people"}
VISIBLE = {
    "leave.txt": ("Annual leave: full-time employees receive 25 days of paid annual leave per year.", HR),
    "leave-requests.txt": ("Annual leave requests are made in PeopleHub two weeks ahead.", HR),
    "carry-over.txt": ("Up to five days of annual leave carry over into the next year.", PEOPLE),
    "parental.txt": ("Parental leave is 16 weeks; annual leave keeps accruing meanwhile.", PEOPLE),
    "onboarding.md": ("# Onboarding\nNew employees meet their buddy on the first day.", HR),
    "sick.txt": ("Sick leave does not reduce annual leave for full-time employees.", HR),
}
VISIBLE_PDF = "handbook.pdf"
HIDDEN_PDF = f"{MARKER}-salaries.pdf"
# Hidden: another department, or no department at all. They say more about annual leave than the visible ones,
# so an unfiltered search ranks them first.
HIDDEN_SAYINGS = [
    "Annual leave for full-time employees on the executive grade is 40 days",
    "Full-time employees in finance get 30 days of annual leave",
    "Annual leave of full-time employees doubles after ten years of service",
    "Unused annual leave of full-time employees is paid out in March",
    "Full-time employees may buy five extra days of annual leave",
    "Annual leave for full-time contractors follows the employee rules",
]
HIDDEN = {
    f"{MARKER}-{n}.txt": (f"{saying}, code {MARKER.upper()}.", {"department": "finance"} if n % 2 else {})
    for n, saying in enumerate(HIDDEN_SAYINGS)
}


@dataclass
class Setup:
    url: str
    keys: dict[str, str]  # admin, reader: both with the document filter
    hidden_job: str
    source_id: str
    answer_id: str  # an answer given to the unfiltered admin, citing hidden documents
    prompts_before: int
    fake: Any
    paths: dict[tuple[str, str], bool]  # (method, path) -> has a body
    data: Path


def _ingest(settings: Settings) -> None:
    pipeline = build_pipeline(build_components(settings))
    sources = [Source.from_bytes(n, t.encode(), metadata=m) for n, (t, m) in {**VISIBLE, **HIDDEN}.items()]
    sources.append(Source.from_bytes(VISIBLE_PDF, make_pdf(["Annual leave is booked in PeopleHub."]), metadata=HR))
    hidden_pdf = make_pdf([f"Salary bands, code {MARKER.upper()}: annual leave for executives is 40 days."])
    sources.append(Source.from_bytes(HIDDEN_PDF, hidden_pdf, metadata={"department": "finance"}))
    assert all(r.status == "ingested" for r in pipeline.ingest(sources, COLLECTION))


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("document-access")
    share = root / f"{MARKER}-share"  # a synced folder: its documents carry source_id and origin, no department
    share.mkdir()
    (share / "bonus.txt").write_text(f"Annual leave bonus {MARKER} for full-time employees: 3 days.")
    with fake_openai_server(reply="Full-time employees get 25 days of annual leave [1].") as fake:
        settings = Settings(
            _env_file=None, data_dir=root / "data", chat_base_url=fake.base_url, chat_model="llama-test",  # type: ignore[call-arg]
            api_keys=ADMIN, sync_upload_files=0, source_roots=str(root), default_collection=COLLECTION,
        )  # fmt: skip
        _ingest(settings)
        store = SqliteKeyStore(settings.keys_db)
        scope = parse_where(WHERE)
        keys = {
            "admin": store.create("hr-admin", "admin", frozenset({COLLECTION}), scope),
            "reader": store.create("hr-reader", "reader", frozenset({COLLECTION}), scope),
        }
        store.close()
        url, stop = _start(settings)
        try:
            with httpx.Client(base_url=url, timeout=300, headers={"Authorization": f"Bearer {ADMIN}"}) as admin:
                yield _prepare(admin, url, keys, fake, share, settings.data_dir)
        finally:
            stop()


def _prepare(admin: httpx.Client, url: str, keys: dict[str, str], fake: Any, share: Path, data: Path) -> Setup:
    """What an unfiltered admin leaves behind: a job that ingested a hidden document, a synced source of hidden
    documents, and an answer (voted down) drawn from hidden documents."""
    files = {"files": (f"{MARKER}-memo.txt", f"The {MARKER} memo: annual leave is 40 days.".encode())}
    metadata = {"metadata": json.dumps({"department": "finance"})}
    job = admin.post(f"/v1/collections/{COLLECTION}/documents", files=files, data=metadata)
    assert job.status_code == 202, job.text
    job_id = job.json()["job_id"]
    wait_until(lambda: admin.get(f"/v1/jobs/{job_id}").json()["status"] == "done", "the hidden upload's job")
    source = admin.post(f"/v1/collections/{COLLECTION}/sources", json={"kind": "folder", "location": str(share)})
    assert source.status_code == 201, source.text
    source_id = source.json()["id"]
    wait_until(
        lambda: admin.get(f"/v1/collections/{COLLECTION}/sources/{source_id}").json()["last_status"] == "done",
        "the folder source's first sync",
    )
    asked = admin.post("/v1/query", json={"question": f"What is the {MARKER} code for annual leave?",
                                          "collection": COLLECTION})  # fmt: skip
    assert asked.status_code == 200 and MARKER in asked.text.lower(), asked.text  # the admin sees them
    answer_id = asked.json()["id"]
    vote = {"rating": "down", "comment": "wrong", "source": f"{MARKER}-3.txt"}
    assert admin.post(f"/v1/answers/{answer_id}/feedback", json=vote).status_code == 201
    schema = admin.get("/openapi.json").json()
    paths = {(m.upper(), p): "requestBody" in op for p, ops in schema["paths"].items() for m, op in ops.items()}
    return Setup(url, keys, job_id, source_id, answer_id, len(fake.requests), fake, paths, data)


def sample_json(method: str, path: str, document_id: str) -> dict[str, Any] | None:
    """A body for each route that takes one; KeyError for a new route, on purpose: give it a sample here."""
    chat = {"model": "rag", "messages": [{"role": "user", "content": QUESTION}], "collection": COLLECTION}
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/v1/search"): {"query": f"annual leave code {MARKER}", "collection": COLLECTION, "top_k": 50},
        ("POST", "/v1/query"): {"question": QUESTION, "collection": COLLECTION, "retrieval": {"top_k": 20}},
        ("POST", "/v1/collections"): {"name": "new"},
        ("POST", "/v1/collections/{name}/documents"): {"text": "Parking is free.", "filename": "p.txt"},
        ("POST", "/v1/chat/completions"): chat,
        ("POST", "/v1/completions"): {"model": "rag", "prompt": QUESTION, "collection": COLLECTION},
        ("POST", "/v1/embeddings"): {"model": "rag", "input": "annual leave"},
        ("POST", "/v1/summarize"): {"document_id": document_id, "collection": COLLECTION},
        ("POST", "/v1/collections/{name}/sources"): {"kind": "folder", "location": "/tmp"},
        ("POST", "/v1/answers/{answer_id}/feedback"): {"rating": "up"},
        ("POST", "/v1/imports"): {},
    }
    return bodies[(method, path)]


# Beyond the samples: the other ways the answer routes read documents.
EXTRA_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("/v1/query", {"question": "What are these documents about?", "collection": COLLECTION}),  # the overview
    ("/v1/query", {"question": QUESTION, "collection": COLLECTION, "stream": True}),
    ("/v1/query", {"question": f"Summarize {MARKER}-3.txt", "collection": COLLECTION}),  # a task naming one
    ("/v1/summarize", {"topic": "annual leave", "collection": COLLECTION}),
    ("/v1/search", {"query": "annual leave", "collection": COLLECTION, "filters": {"department": "finance"}}),
    ("/v1/chat/completions", {"model": "rag", "stream": True, "collection": COLLECTION,
                              "messages": [{"role": "user", "content": "What documents do you have?"}]}),
]  # fmt: skip


def _send(client: httpx.Client, setup: Setup, method: str, path: str, document_id: str) -> httpx.Response:
    page = "1"
    url = (
        path.replace("{name}", COLLECTION).replace("{document_id}", document_id).replace("{page}", page)
        .replace("{job_id}", setup.hidden_job).replace("{source_id}", setup.source_id)
        .replace("{answer_id}", setup.answer_id)
    )  # fmt: skip
    body = sample_json(method, path, document_id) if setup.paths[(method, path)] else None
    return client.request(method, url, json=body)


def _text(response: httpx.Response) -> str:
    """Everything a client receives, lower-cased; archives unpacked (a tar stores member files as they are)."""
    headers = " ".join(f"{k}: {v}" for k, v in response.headers.items())
    body = response.content
    if response.headers.get("content-type", "").startswith("application/x-tar"):
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            body = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())  # type: ignore[union-attr]
    return (headers + " " + body.decode("utf-8", "replace")).lower()


@pytest.fixture(scope="module")
def filtered(setup: Setup) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=setup.url, timeout=300, headers={"Authorization": f"Bearer {setup.keys['admin']}"}) as c:
        yield c


def test_no_route_shows_a_hidden_document_to_a_filtered_key(setup: Setup, filtered: httpx.Client) -> None:
    leaks, served, failed = [], 0, []
    for method, path in setup.paths:
        for document_id in (f"{MARKER}-3.txt", HIDDEN_PDF, VISIBLE_PDF):
            response = _send(filtered, setup, method, path, document_id)
            served += response.status_code < 400
            if response.status_code >= 500:
                failed.append((method, path, document_id, response.text[:200]))
            if MARKER in _text(response).replace(document_id.lower(), ""):  # an error may name what was asked for
                leaks.append((method, path, document_id, response.status_code, _text(response)[:2000]))
            if "{document_id}" not in path and path != "/v1/summarize":
                break
    for path, body in EXTRA_REQUESTS:
        response = filtered.post(path, json=body)
        served += response.status_code < 400
        if response.status_code >= 400:  # each of these reads visible documents
            failed.append(("POST", path, body, response.text[:200]))
        if MARKER in _text(response):
            leaks.append(("POST", path, body, response.status_code, _text(response)[:300]))
    assert not leaks, f"a filtered key saw hidden documents: {leaks}"
    assert not failed, failed
    assert served >= 25  # the visible documents were served, not everything refused
    prompts = json.dumps([r.json for r in setup.fake.requests[setup.prompts_before :]]).lower()
    assert len(setup.fake.requests) > setup.prompts_before and MARKER not in prompts  # nor told to the model


def test_a_hidden_document_answers_like_one_that_does_not_exist(setup: Setup, filtered: httpx.Client) -> None:
    differ, checked = [], 0
    for method, path in setup.paths:
        if "{document_id}" not in path and path != "/v1/summarize":
            continue
        if method == "DELETE":  # a write: refused to a filtered key whatever it names
            continue
        hidden = _send(filtered, setup, method, path, HIDDEN_PDF)
        nowhere = _send(filtered, setup, method, path, "no-such-document.pdf")
        checked += 1
        same = hidden.status_code == nowhere.status_code == 404 and hidden.json()["error"]["message"].replace(
            HIDDEN_PDF, "@"
        ) == nowhere.json()["error"]["message"].replace("no-such-document.pdf", "@")
        if not same:
            differ.append((method, path, hidden.status_code, hidden.text[:200], nowhere.text[:200]))
    assert not differ, differ
    assert checked >= 5  # get, chunks, page image, original, summarize


def test_a_filtered_key_only_reads(setup: Setup, filtered: httpx.Client) -> None:
    writes = [("DELETE", "/v1/collections/{name}/documents/{document_id}"), ("DELETE", "/v1/collections/{name}"),
              ("POST", "/v1/collections/{name}/documents")]  # fmt: skip
    for method, path in writes:
        error = assert_contract(_send(filtered, setup, method, path, "leave.txt"), 403)
        assert "only read" in error["message"] and "department=hr,people" in error["message"]
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert filtered.get(f"/v1/collections/{COLLECTION}/documents/leave.txt", headers=admin).status_code == 200


def test_search_filters_before_taking_the_top_k(setup: Setup) -> None:
    """Unfiltered, the hidden documents fill the first places; filtered, the k results are all visible ones."""
    body = {"query": "annual leave for full-time employees", "collection": COLLECTION, "top_k": 5}
    with httpx.Client(base_url=setup.url, timeout=300) as client:
        everyone = client.post("/v1/search", json=body, headers={"Authorization": f"Bearer {ADMIN}"}).json()
        reader = client.post("/v1/search", json=body, headers={"Authorization": f"Bearer {setup.keys['reader']}"})
    assert sum(MARKER in r["document_id"] for r in everyone["results"]) >= 2  # dropping them after would leave < 5
    found = [r["document_id"] for r in reader.json()["results"]]
    assert len(found) == 5 and set(found) <= {*VISIBLE, VISIBLE_PDF}, found


def test_lists_counts_and_answers_hold_the_visible_documents(setup: Setup, filtered: httpx.Client) -> None:
    listed = filtered.get(f"/v1/collections/{COLLECTION}/documents", params={"limit": 500}).json()
    assert {d["document_id"] for d in listed["documents"]} == {*VISIBLE, VISIBLE_PDF} and listed["total"] == 7
    collection = filtered.get(f"/v1/collections/{COLLECTION}").json()
    assert collection["documents"] == 7
    assert filtered.get(f"/v1/collections/{COLLECTION}/documents/leave.txt/chunks").json()["total"] == 1
    page = filtered.get(f"/v1/collections/{COLLECTION}/documents/{VISIBLE_PDF}/pages/1.png")
    assert page.status_code == 200 and page.content.startswith(b"\x89PNG")

    answer = filtered.post("/v1/query", json={"question": QUESTION, "collection": COLLECTION}).json()
    assert not answer["abstained"] and "25 days" in answer["answer"]
    assert {s["document_id"] for s in answer["sources"]} <= {*VISIBLE, VISIBLE_PDF}
    overview = filtered.post("/v1/query", json={"question": "What are these documents about?",
                                                "collection": COLLECTION}).json()  # fmt: skip
    assert overview["mode"] == "overview" and "leave.txt" in overview["answer"]
    assert {s["document_id"] for s in overview["sources"]} == {*VISIBLE, VISIBLE_PDF}

    bundle = filtered.get(f"/v1/collections/{COLLECTION}/export")
    with tarfile.open(fileobj=io.BytesIO(bundle.content)) as tar:
        documents = tar.extractfile("documents.jsonl").read().decode().splitlines()  # type: ignore[union-attr]
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        sources = tar.extractfile("sources.jsonl").read()  # type: ignore[union-attr]
    assert {json.loads(d)["document_id"] for d in documents} == {*VISIBLE, VISIBLE_PDF}
    assert manifest["counts"]["documents"] == 7
    assert sources == b"" and manifest["counts"]["sources"] == 0  # the hidden documents' folder source stays

    insights = filtered.get(f"/v1/collections/{COLLECTION}/insights").json()
    assert insights["questions"] >= 2 and insights["ratings"]["down"] == 0  # the admin's hidden answer is gone
    assert {d["document_id"] for d in insights["never_cited"]} <= {*VISIBLE, VISIBLE_PDF}
    assert filtered.get(f"/v1/collections/{COLLECTION}/sources").json()["sources"] == []


def test_rag_keys_create_where_makes_a_key_the_running_server_filters_with(setup: Setup) -> None:
    created = _rag(setup.data, "keys", "create", "people-bot", "--collections", COLLECTION,
                   "--where", "department=people", "--json")  # fmt: skip
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    assert key["documents"] == {"department": ["people"]} and key["role"] == "reader"
    listed = {r["name"]: r for r in json.loads(_rag(setup.data, "keys", "list", "--json").stdout)}
    assert listed["people-bot"]["documents"] == {"department": ["people"]}
    assert "department=people" in _rag(setup.data, "keys", "list").stdout

    body = {"query": "annual leave", "collection": COLLECTION, "top_k": 10}
    found = httpx.post(f"{setup.url}/v1/search", json=body, headers={"Authorization": f"Bearer {key['key']}"})
    assert {r["document_id"] for r in found.json()["results"]} == {"carry-over.txt", "parental.txt"}

    for bad, says in [("page=1", "differs between a document's chunks"), ("department", "KEY=VALUE")]:
        refused = _rag(setup.data, "keys", "create", "bad-bot", "--where", bad)
        assert refused.returncode != 0 and says in " ".join(refused.stderr.split())  # the console wraps lines
