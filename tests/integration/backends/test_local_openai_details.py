"""OpenAI details on the local llama.cpp backend, over real HTTP: JSON constrained by a grammar, honest
finish reasons, and seeds that reproduce a sampled answer."""

from __future__ import annotations

import json

import openai
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def local_client(live_server) -> openai.OpenAI:  # type: ignore[no-untyped-def]
    url = live_server(chat_base_url=None, chat_backend="local", local_threads=2)
    return openai.OpenAI(base_url=f"{url}/v1", api_key="-", max_retries=0)


def plain(client: openai.OpenAI, content: str, **kwargs: object):  # type: ignore[no-untyped-def]
    return client.chat.completions.create(
        model="rag", messages=[{"role": "user", "content": content}], extra_body={"use_context": False}, **kwargs
    )


def test_json_mode_is_valid_json_or_says_it_was_cut(local_client: openai.OpenAI) -> None:
    ask = "Describe a cat as a JSON object with a name and an age."
    cut = plain(local_client, ask, response_format={"type": "json_object"}, max_tokens=8)
    assert cut.choices[0].finish_reason == "length" and cut.choices[0].message.content.lstrip().startswith("{")
    whole = plain(local_client, ask, response_format={"type": "json_object"}, max_tokens=200, temperature=0)
    assert whole.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(whole.choices[0].message.content), dict)
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    json_schema = {"type": "json_schema", "json_schema": {"name": "cat", "schema": schema}}
    typed = plain(local_client, ask, max_tokens=50, temperature=0, response_format=json_schema)
    assert isinstance(json.loads(typed.choices[0].message.content)["age"], int)


def test_a_seed_reproduces_a_sampled_answer(local_client: openai.OpenAI) -> None:
    def poem(seed: int) -> str:
        answer = plain(local_client, "Write a short poem about the sea.", temperature=1.0, seed=seed, max_tokens=30)
        return answer.choices[0].message.content  # type: ignore[return-value]

    first, other, again = poem(42), poem(7), poem(42)
    assert first == again and first != other
