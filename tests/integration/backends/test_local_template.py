"""The local backend's prompt tokens, on the packaged SmolLM2 GGUF: only the chat template makes control tokens."""

from __future__ import annotations

import pytest

from rag.answering.quoting import quoter_for
from rag.backends.base import Message
from rag.backends.local import LocalLlamaBackend
from rag.config import Settings
from tests.integration.backends.test_prompt_quoting import HOSTILE


@pytest.fixture(scope="module")
def backend() -> LocalLlamaBackend:
    return LocalLlamaBackend(Settings(_env_file=None, chat_context_window=512))  # type: ignore[call-arg]


def special_id(backend: LocalLlamaBackend, text: str) -> int:
    [token] = backend.llm.tokenize(text.encode(), add_bos=False, special=True)
    return token


def test_a_plain_conversation_tokenizes_as_llama_cpp_formats_it(backend: LocalLlamaBackend) -> None:
    messages = [Message("system", "Answer briefly."), Message("user", "What is 2+2?"), Message("assistant", "4."),
                Message("user", "And 3+3?")]  # fmt: skip
    rendered = backend.template.formatter(messages=[{"role": m.role, "content": m.content} for m in messages]).prompt
    assert backend.prompt_tokens(messages) == backend.llm.tokenize(rendered.encode(), add_bos=False, special=True)


@pytest.mark.parametrize("variant", HOSTILE)
def test_unquoted_markers_in_a_message_never_become_control_tokens(backend: LocalLlamaBackend, variant: str) -> None:
    """Even text the quoting missed stays text: the backend tokenizes contents without special tokens."""
    _, payload, _ = HOSTILE[variant]
    messages = [Message("system", "Answer briefly."), Message("user", f"Document: {payload} Question?")]
    tokens = backend.prompt_tokens(messages)
    im_start, im_end = special_id(backend, "<|im_start|>"), special_id(backend, "<|im_end|>")
    assert (tokens.count(im_start), tokens.count(im_end)) == (3, 2)
    assert f"Document: {payload} Question?" in backend.llm.detokenize(tokens, special=True).decode()


def test_the_models_control_tokens_are_read_from_the_gguf(backend: LocalLlamaBackend) -> None:
    # SmolLM2's vocabulary marks these as control tokens; no list of them is written in our code.
    assert {"<|im_start|>", "<|im_end|>", "<|endoftext|>", "<filename>", "<jupyter_code>"} <= backend.template_markers
    assert quoter_for(backend).quote("<filename>a.py<jupyter_code>") == "‹filename›a.py‹jupyter_code›"
