"""API keys over real HTTP: checked before anything else, in constant time; the docs open only when asked."""

from __future__ import annotations

import hmac

import httpx
import pytest

from api.middleware.auth import KeyChecker
from rag.config import Settings
from rag.errors import Unauthorized
from rag.storage.keys import build_key_store
from tests.integration.backends.test_api_backends import assert_contract

KEYS = "k1,k2"
DOCS = ("/openapi.json", "/docs", "/redoc")


def test_without_a_key_nothing_but_health_answers_anything_but_401(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server(api_keys=KEYS), timeout=60) as client:
        unknown = client.get("/v1/nothing-here")  # was 404: the route's absence showed
        wrong_method = client.get("/v1/search")  # was 405
        malformed = client.post("/v1/search", content=b"{not json", headers={"content-type": "application/json"})
        invalid = client.post("/v1/search", json={"query": ""})  # was 422 with the schema's complaint
        for response in (unknown, wrong_method, malformed, invalid):
            error = assert_contract(response, 401)
            assert response.headers["www-authenticate"] == "Bearer" and "query" not in error["message"]
        for path in DOCS:
            assert_contract(client.get(path), 401)
        assert_contract(client.get("/v1/models", headers={"Authorization": "Bearer k3"}), 401)
        assert_contract(client.get("/v1/models", headers={"Authorization": "Bearer ключ".encode()}), 401)  # not a 500
        assert_contract(client.get("/v1/models", headers={"Authorization": "Basic k1"}), 401)
        assert client.get("/health").status_code in (200, 503)

        key = {"Authorization": "Bearer k2"}
        assert client.get("/v1/models", headers=key).status_code == 200
        assert_contract(client.get("/v1/search", headers=key), 405)
        assert_contract(client.post("/v1/search", json={"query": ""}, headers=key), 422)
        assert client.get("/openapi.json", headers=key).status_code == 200


def test_the_openapi_document_asks_for_a_key_exactly_while_keys_exist(live_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Without keys every request is served, so no operation declares the bearer scheme or a 401. A key made
    while the server runs (`rag keys create`) turns auth on, and the document says so from then on."""

    def declaring(document: dict) -> set[str]:  # type: ignore[type-arg]
        return {
            f"{method.upper()} {path}"
            for path, operations in document["paths"].items()
            for method, operation in operations.items()
            if "security" in operation and "401" in operation["responses"]
        }

    with httpx.Client(base_url=live_server(), timeout=60) as client:
        keyless = client.get("/openapi.json").json()
        store = build_key_store(Settings(_env_file=None, data_dir=tmp_path / "data"))  # type: ignore[call-arg]
        key = store.create("docs-reader", "reader", None)
        store.close()
        assert_contract(client.get("/openapi.json"), 401)
        keyed = client.get("/openapi.json", headers={"Authorization": f"Bearer {key}"}).json()
    assert not declaring(keyless) and "securitySchemes" not in keyless["components"]
    assert not any("401" in op["responses"] for ops in keyless["paths"].values() for op in ops.values())
    every = {f"{method.upper()} {path}" for path, operations in keyed["paths"].items() for method in operations}
    assert declaring(keyed) == every - {"GET /health"}
    assert keyed["components"]["securitySchemes"] == {"HTTPBearer": {"type": "http", "scheme": "bearer"}}


def test_public_docs_open_the_docs_and_nothing_else(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server(api_keys=KEYS, public_docs=True), timeout=60) as client:
        for path in DOCS:
            assert client.get(path).status_code == 200, path
        assert_contract(client.get("/v1/collections"), 401)
        assert_contract(client.get("/docs/../v1/collections"), 401)


@pytest.mark.parametrize("given", ["k1", "k3", "k2"])
def test_every_key_is_compared_whichever_matches(given: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Constant time: a match on the first key costs what a match on the last, or no match, costs."""
    compared = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    checker = KeyChecker(["k1", "a-much-longer-second-key", "k2"])
    try:
        checker.check(f"Bearer {given}")
    except Unauthorized:
        assert given == "k3"
    assert compared == [(32, 32)] * 3  # digests: the keys' lengths do not show either
