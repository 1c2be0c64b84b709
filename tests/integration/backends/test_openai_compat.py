"""Our /v1/chat/completions with real clients: the official openai SDK and the seeds' cURL examples."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from rag.config import Settings
from tests.conftest import ingest_knowledge
from tests.fakes import fake_openai_server

SEED_CURL = Path(__file__).resolve().parents[2] / "data" / "seed_curl"
LAMB = {
    "sous_vide.txt": "Sous vide: seal the lamb in a bag and cook it in a water bath at 57 C for hours.",
    "sous_le_sable.txt": "Sous le sable: the lamb is buried in hot desert sand with embers and slow-roasted.",
    "hot_smoking.txt": "Hot smoking: lamb shoulder smoked over oak wood at 110 C until tender.",
}


@pytest.fixture
def server(live_server, tmp_path: Path) -> Iterator[tuple[str, object]]:  # type: ignore[no-untyped-def]
    from ingest.pipeline import Source
    from ingest.service import build_pipeline
    from rag.retrieval.components import build_components

    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    ingest_knowledge(settings)
    build_pipeline(build_components(settings)).ingest(
        [Source.from_bytes(n, t.encode()) for n, t in LAMB.items()], "lamb"
    )
    with fake_openai_server(reply="Sous le sable buries the lamb in hot sand [1].") as fake:
        url = live_server(chat_base_url=fake.base_url, chat_model="llama-test", default_collection="lamb",
                          api_keys="k1", model_aliases="rag,meta-llama/Llama-2-7b-chat-hf")  # fmt: skip
        yield url, fake


def client(url: str, key: str = "k1") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


def test_the_openai_client_gets_a_grounded_completion_with_sources(server) -> None:  # type: ignore[no-untyped-def]
    url, fake = server
    response = client(url).chat.completions.create(
        model="llama-test", messages=[{"role": "user", "content": "How is lamb cooked in sand?"}], temperature=0,
        extra_body={"top_k": 20, "retrieval": {"top_k": 2}},
    )  # fmt: skip
    assert response.object == "chat.completion" and response.model == "llama-test"
    assert response.choices[0].message.content == "Sous le sable buries the lamb in hot sand [1]."
    assert response.choices[0].finish_reason == "stop" and response.usage and response.usage.total_tokens > 0
    sources = response.model_extra["sources"]  # type: ignore[index]
    assert sources[0]["filename"] == "sous_le_sable.txt" and sources[0]["n"] == 1 and len(sources) <= 2
    sent = fake.requests[-1].json
    assert sent["top_k"] == 20 and "<context>" in sent["messages"][-1]["content"]


def test_the_openai_client_streams_chunks_with_sources_first(server) -> None:  # type: ignore[no-untyped-def]
    url, _ = server
    stream = client(url).chat.completions.create(
        model="rag", messages=[{"role": "user", "content": "smoking lamb over oak"}], stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = list(stream)
    assert chunks[0].model_extra["sources"][0]["filename"] == "hot_smoking.txt"  # type: ignore[index]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Sous le sable buries the lamb in hot sand [1]."
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"] and chunks[-1].usage and chunks[-1].usage.completion_tokens > 0


def test_a_follow_up_retrieves_what_it_refers_to(server) -> None:  # type: ignore[no-untyped-def]
    url, _ = server
    messages = [
        {"role": "user", "content": "Can you name three techniques to cook lamb?"},
        {"role": "assistant", "content": 'Three: "Sous Vide", "Sous le Sable" and "Hot Smoking".'},
        {"role": "user", "content": "Tell me more about the second method."},
    ]
    response = client(url).chat.completions.create(model="rag", messages=messages)  # type: ignore[arg-type]
    assert response.model_extra["sources"][0]["filename"] == "sous_le_sable.txt"  # type: ignore[index]


def test_plain_chat_without_context_passes_messages_through(server) -> None:  # type: ignore[no-untyped-def]
    url, fake = server
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]
    response = client(url).chat.completions.create(
        model="rag", messages=messages, n=2, response_format={"type": "json_object"},  # type: ignore[arg-type]
        extra_body={"use_context": False},
    )  # fmt: skip
    assert [c.index for c in response.choices] == [0, 1]
    assert response.model_extra["sources"] == []  # type: ignore[index]
    assert fake.requests[-1].json["messages"] == messages
    assert fake.requests[-1].json["response_format"] == {"type": "json_object"}


def test_models_lists_the_backend_model_then_its_aliases(server) -> None:  # type: ignore[no-untyped-def]
    url, _ = server
    assert [m.id for m in client(url).models.list()] == ["llama-test", "rag", "meta-llama/Llama-2-7b-chat-hf"]


@pytest.mark.parametrize(
    ("kwargs", "error", "status"),
    [
        ({"messages": [{"role": "system", "content": "only rules"}]}, openai.BadRequestError, 400),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, openai.BadRequestError, 400),
        ({"messages": [{"role": "user", "content": 42}]}, openai.BadRequestError, 400),
        ({"messages": []}, openai.BadRequestError, 400),
        ({"messages": [{"role": "user", "content": "hi"}], "extra_body": {"collection": "nope1"}},
         openai.NotFoundError, 404),
    ],
)  # fmt: skip
def test_bad_requests_raise_the_right_openai_exceptions(server, kwargs, error, status) -> None:  # type: ignore[no-untyped-def]
    url, _ = server
    with pytest.raises(error) as caught:
        client(url).chat.completions.create(model="rag", **kwargs)
    assert caught.value.status_code == status
    body = caught.value.body
    assert isinstance(body, dict) and body["code"] == status and body["traceId"]


def test_auth_and_backend_failures_surface_as_openai_exceptions(server, live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, _ = server
    with pytest.raises(openai.AuthenticationError):
        client(url, key="wrong").chat.completions.create(model="rag", messages=[{"role": "user", "content": "hi"}])
    with fake_openai_server("error500") as broken:
        settings_url = live_server(chat_base_url=broken.base_url, chat_max_retries=0, data_dir=tmp_path / "d2")
        with pytest.raises(openai.InternalServerError) as caught:
            openai.OpenAI(base_url=f"{settings_url}/v1", api_key="-", max_retries=0).chat.completions.create(
                model="rag", messages=[{"role": "user", "content": "hi"}], extra_body={"use_context": False}
            )
    assert caught.value.status_code == 502


@pytest.mark.parametrize("example", ["hello", "conversation", "stream"])
def test_the_seed_curl_examples_replay_against_our_server(server, example: str) -> None:  # type: ignore[no-untyped-def]
    url, _ = server
    command = (SEED_CURL / f"{example}.sh").read_text()
    command = command.replace("https://api.deepinfra.com/v1/openai/chat/completions", f"{url}/v1/chat/completions")
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "DEEPINFRA_TOKEN": "k1"})  # fmt: skip
    assert result.returncode == 0, result.stderr
    if example == "stream":
        lines = [line[5:].strip() for line in result.stdout.splitlines() if line.startswith("data:")]
        assert lines[-1] == "[DONE]"
        assert all(json.loads(x)["object"] == "chat.completion.chunk" for x in lines[:-1])
    else:
        body = json.loads(result.stdout)
        assert body["object"] == "chat.completion" and body["choices"][0]["message"]["role"] == "assistant"
        if example == "conversation":
            assert body["sources"][0]["filename"] == "sous_le_sable.txt"


def test_chat_route_is_protected(server) -> None:  # type: ignore[no-untyped-def]
    url, _ = server
    response = httpx.post(f"{url}/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 401 and response.json()["error"]["code"] == 401
