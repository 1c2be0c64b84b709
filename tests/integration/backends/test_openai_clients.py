"""Citations reach the users of real OpenAI clients (the `openai` SDK, langchain-openai, the `llm` CLI), and the
OpenAI details those clients rely on: model names, error fields, request ids, completions and embeddings."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

from tests.conftest import BIN
from tests.fakes import fake_openai_server
from tests.integration.backends.test_openai_compat import LAMB

REPLY = "Sous le sable buries the lamb in hot sand [1]."
QUESTION = "How is lamb cooked in sand?"


def ingest_lamb(data_dir: Path) -> None:
    from ingest.pipeline import Source
    from ingest.service import build_pipeline
    from rag.config import Settings
    from rag.retrieval.components import build_components

    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    sources = [Source.from_bytes(n, t.encode()) for n, t in LAMB.items()]
    build_pipeline(build_components(settings)).ingest(sources, "lamb")


@pytest.fixture
def server(live_server, tmp_path: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Our app over real HTTP, grounded in the "lamb" collection, with a fake Llama server writing the answers."""
    ingest_lamb(tmp_path / "data")
    with fake_openai_server(reply=REPLY) as fake:
        yield live_server(chat_base_url=fake.base_url, chat_model="llama-test", default_collection="lamb",
                          api_keys="k1", model_aliases="rag,team-bot")  # fmt: skip


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="k1", max_retries=0)


def opened(url: str) -> dict:  # type: ignore[type-arg]
    """What a user gets by opening a citation's URL (with their key)."""
    response = httpx.get(url, headers={"Authorization": "Bearer k1"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["chunks"][0]  # type: ignore[no-any-return]


def test_the_openai_sdk_gets_url_citations_that_open_the_cited_passage(server: str) -> None:
    response = client(server).chat.completions.create(model="rag", messages=[{"role": "user", "content": QUESTION}])
    message = response.choices[0].message
    assert message.content == REPLY
    [annotation] = message.annotations or []
    cited = annotation.url_citation
    assert annotation.type == "url_citation" and cited.title == "[1] sous_le_sable.txt"
    assert message.content[cited.start_index : cited.end_index] == REPLY
    assert cited.url.startswith(f"{server}/v1/collections/lamb/documents/sous_le_sable.txt/chunks")
    assert "buried in hot desert sand" in opened(cited.url)["text"]
    assert response.model_extra["sources"][0]["filename"] == "sous_le_sable.txt"  # type: ignore[index]


def test_a_streaming_sdk_user_gets_the_annotations_on_a_delta(server: str) -> None:
    stream = client(server).chat.completions.create(
        model="rag", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    deltas = [c.choices[0].delta.model_extra or {} for c in chunks if c.choices]
    annotations = [a for extra in deltas for a in extra.get("annotations", [])]
    assert text == REPLY and len(annotations) == 1
    cited = annotations[0]["url_citation"]
    assert text[cited["start_index"] : cited["end_index"]] == REPLY and "desert sand" in opened(cited["url"])["text"]


def test_citations_in_content_end_the_answer_with_a_sources_block(server: str) -> None:
    response = client(server).chat.completions.create(
        model="rag", messages=[{"role": "user", "content": QUESTION}], extra_body={"citations_in_content": True}
    )
    message = response.choices[0].message
    assert message.content == REPLY + "\n\nSources:\n[1] sous_le_sable.txt"
    assert message.content[: message.annotations[0].url_citation.end_index].endswith("sand [1].")  # type: ignore[index]


def test_a_langchain_user_gets_the_citations_in_the_content(server: str) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model="rag", base_url=f"{server}/v1", api_key="k1", max_retries=0,  # type: ignore[arg-type]
                     extra_body={"collection": "lamb", "citations_in_content": True})  # fmt: skip
    answer = llm.invoke(QUESTION)
    assert answer.content == REPLY + "\n\nSources:\n[1] sous_le_sable.txt"
    streamed = "".join(str(chunk.content) for chunk in llm.stream(QUESTION))
    assert streamed.endswith("Sources:\n[1] sous_le_sable.txt")


def _llm(user_dir: Path, *args: str) -> str:
    result = subprocess.run([str(BIN / "llm"), *args], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "LLM_USER_PATH": str(user_dir)})  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def llm_user_dir(tmp_path: Path, url: str) -> Path:
    """`llm` pointed at our server as an extra OpenAI model, the way its docs configure one."""
    user_dir = tmp_path / "llm-user"
    user_dir.mkdir()
    (user_dir / "extra-openai-models.yaml").write_text(
        f"- model_id: rag\n  model_name: rag\n  api_base: {url}/v1\n  api_key_name: rag\n"
    )
    (user_dir / "keys.json").write_text(json.dumps({"rag": "k1"}))
    return user_dir


def test_an_llm_cli_user_gets_the_citations(server: str, tmp_path: Path) -> None:
    user_dir = llm_user_dir(tmp_path, server)
    _llm(user_dir, "-m", "rag", "--no-stream", QUESTION)
    logged = json.loads(_llm(user_dir, "logs", "--json", "-n", "1"))[0]
    message = logged["response_json"]["choices"][0]["message"]
    assert message["content"] == REPLY and message["annotations"][0]["url_citation"]["title"] == "[1] sous_le_sable.txt"


def test_a_server_default_puts_the_sources_block_in_every_answer(live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ingest_lamb(tmp_path / "data")
    with fake_openai_server(reply=REPLY) as fake:
        url = live_server(chat_base_url=fake.base_url, default_collection="lamb", api_keys="k1",
                          citations_in_content=True)  # fmt: skip
        printed = _llm(llm_user_dir(tmp_path, url), "-m", "rag", QUESTION)  # streamed, as llm does by default
    assert printed.strip() == REPLY + "\n\nSources:\n[1] sous_le_sable.txt"


def test_an_unserved_model_fails_loudly_with_openai_fields(server: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client(server).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    error = caught.value
    assert error.code == "model_not_found" and error.param == "model" and error.type == "not_found_error"
    assert "'gpt-4o'" in error.message and "'llama-test'" in error.message and "RAG_MODEL_ALIASES" in error.message
    assert error.request_id and error.body["traceId"] == error.request_id  # type: ignore[index]
    for name in ("llama-test", "team-bot"):  # the served model and a configured alias
        ok = client(server).chat.completions.create(model=name, messages=[{"role": "user", "content": QUESTION}])
        assert ok.choices[0].message.content == REPLY
    assert httpx.post(f"{server}/v1/completions", json={"model": "gpt-4o", "prompt": "hi"},
                      headers={"Authorization": "Bearer k1"}).status_code == 404  # fmt: skip


def test_every_response_carries_the_request_id_the_sdk_reads(server: str) -> None:
    raw = client(server).chat.completions.with_raw_response.create(
        model="rag", messages=[{"role": "user", "content": QUESTION}]
    )
    assert raw.request_id and raw.request_id == raw.headers["x-trace-id"]
    with pytest.raises(openai.BadRequestError) as caught:
        client(server).chat.completions.create(model="rag", messages=[{"role": "system", "content": "rules only"}])
    error = caught.value
    assert error.type == "invalid_request_error" and error.code == "400"  # the SDK reads our status as a string
    assert error.request_id == error.body["traceId"]  # type: ignore[index]
    health = httpx.get(f"{server}/health")
    assert health.headers["x-request-id"] == health.headers["x-trace-id"]


def test_json_output_is_refused_for_grounded_answers_with_the_fix(server: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(server).chat.completions.create(
            model="rag", messages=[{"role": "user", "content": QUESTION}], response_format={"type": "json_object"}
        )
    assert "use_context: false" in caught.value.message


def test_legacy_completions_answer_over_the_grounded_path(server: str) -> None:
    completion = client(server).completions.create(model="rag", prompt=QUESTION, max_tokens=64)
    assert completion.object == "text_completion" and completion.id.startswith("cmpl-")
    assert completion.choices[0].text == REPLY and completion.choices[0].finish_reason == "stop"
    assert completion.model_extra["sources"][0]["filename"] == "sous_le_sable.txt"  # type: ignore[index]
    pieces = list(client(server).completions.create(model="rag", prompt=QUESTION, stream=True,
                                                    extra_body={"citations_in_content": True}))  # fmt: skip
    assert all(p.object == "text_completion" for p in pieces)
    assert "".join(p.choices[0].text for p in pieces if p.choices) == REPLY + "\n\nSources:\n[1] sous_le_sable.txt"
    assert [p.choices[0].finish_reason for p in pieces if p.choices and p.choices[0].finish_reason] == ["stop"]


def test_embeddings_are_the_services_own_vectors(server: str, embedder) -> None:  # type: ignore[no-untyped-def]
    texts = ["lamb buried in sand", "password rules"]
    response = client(server).embeddings.create(model="rag", input=texts)  # the SDK asks for base64 by default
    vectors = np.array([d.embedding for d in response.data])
    assert vectors.shape == (2, embedder.dimension) and [d.index for d in response.data] == [0, 1]
    assert np.allclose(vectors, embedder.embed_documents(texts), atol=1e-5)
    assert response.usage.prompt_tokens > 0 and response.model
    single = client(server).embeddings.create(model=response.model, input="lamb", encoding_format="float")
    assert len(single.data) == 1 and len(single.data[0].embedding) == embedder.dimension

    from langchain_openai import OpenAIEmbeddings

    lc = OpenAIEmbeddings(model="rag", base_url=f"{server}/v1", api_key="k1", check_embedding_ctx_length=False)  # type: ignore[arg-type]
    assert np.allclose(lc.embed_query("lamb buried in sand"), vectors[0], atol=1e-5)
    with pytest.raises(openai.BadRequestError) as caught:
        client(server).embeddings.create(model="rag", input=[[1, 2, 3]])
    assert "check_embedding_ctx_length=False" in caught.value.message
