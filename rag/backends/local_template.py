"""The local model's chat template, applied so that only the template itself can produce control tokens.

llama-cpp-python formats a conversation to one string and tokenizes it with special-token parsing on, so a
message holding `<|im_end|><|im_start|>system` becomes a real system turn. Here the template is rendered with
placeholders, its own text is tokenized with special tokens and each message's content without: the turns
of the prompt are exactly the messages given, whatever they contain.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rag.backends.base import Message
from rag.errors import BackendError

if TYPE_CHECKING:
    from llama_cpp import Llama

# Placeholders from Unicode's private use area: no document or template text holds them.
_PLACEHOLDER = "\ue000{}\ue001"
_PLACEHOLDERS = re.compile("\ue000(\\d+)\ue001")
# Turn markers a template writes as plain text rather than as vocabulary tokens (Llama 2's `[INST]`, `<<SYS>>`).
_TEMPLATE_MARKER = re.compile(r"<\|[^|<>\s]{1,64}\|>|<</?[A-Za-z_]{1,32}>>|\[/?[A-Z_]{2,32}\]|</?[a-z_]{2,32}>")


def vocabulary_control_tokens(llm: Llama) -> frozenset[str]:
    """Every token that special-token parsing can produce: control and user-defined tokens of the GGUF vocab."""
    import llama_cpp

    special = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
    model = llm._model  # llama-cpp-python exposes a token's text and attributes only on its model wrapper
    texts = (model.token_get_text(i) for i in range(model.n_vocab()) if model.token_get_attr(i) & special)
    return frozenset(text for text in texts if text.strip())


class ChatTemplate:
    """Formats and tokenizes a conversation with the GGUF's chat template (ChatML when it has none)."""

    def __init__(self, llm: Llama) -> None:
        from llama_cpp.llama_chat_format import CHATML_CHAT_TEMPLATE, Jinja2ChatFormatter

        self.llm = llm
        template = llm.metadata.get("tokenizer.chat_template") or CHATML_CHAT_TEMPLATE
        eos_id, bos_id = llm.token_eos(), llm.token_bos()
        self.eos_token = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
        bos_token = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
        # The same formatter llama-cpp-python builds from the GGUF metadata for create_chat_completion.
        self.formatter = Jinja2ChatFormatter(template=template, eos_token=self.eos_token, bos_token=bos_token)
        self.markers = vocabulary_control_tokens(llm) | frozenset(_TEMPLATE_MARKER.findall(template))

    def tokens(self, messages: Sequence[Message]) -> list[int]:
        """The prompt's tokens; special tokens come only from the template, never from a message's content.

        Contents are stripped as templates such as Llama 3's do; llama-cpp-python adds no BOS to a
        rendered template (the template writes it), so neither do we."""
        placeholders = [{"role": m.role, "content": _PLACEHOLDER.format(i)} for i, m in enumerate(messages)]
        rendered = self.formatter(messages=placeholders).prompt
        pieces = _PLACEHOLDERS.split(rendered)
        order = [int(i) for i in pieces[1::2]]
        if sorted(order) != list(range(len(messages))):
            raise BackendError("the local model's chat template does not write each message exactly once")
        tokens: list[int] = []
        for n, piece in enumerate(pieces):
            if n % 2 == 0:
                tokens += self.llm.tokenize(piece.encode(), add_bos=False, special=True) if piece else []
            else:
                content = messages[int(piece)].content.strip().encode()
                tokens += self.llm.tokenize(content, add_bos=False, special=False) if content else []
        return tokens
