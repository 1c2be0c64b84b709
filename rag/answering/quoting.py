"""Quoting of document and user text inside prompts: quoted text can close no block and open no chat turn.

Two kinds of text would let a document speak to the model as something other than data:
- a block delimiter (`</context>`, `</text>`) in any case or spacing, which a model reads as the end of the data;
- a control token of the chat template (`<|im_start|>`, `<|eot_id|>`, `[INST]`, ...), which a tokenizer that
  parses special tokens turns into a real turn boundary, and which any model reads as one.
Both are rewritten with look-alike characters (`<` → `‹`, `|` → `¦`, ...): the text stays present and readable,
but is neither. No library does this (prompt-injection scanners classify, they do not escape), hence by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# The blocks our prompts wrap quoted text in (rag/answering/prompts.py).
BLOCK_NAMES = ("context", "text")

# Turn markers of the common chat templates, for remote models whose tokenizer we cannot read.
GENERIC_TEMPLATE_MARKERS = frozenset(
    {
        "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_sep|>",  # ChatML (Qwen, SmolLM, Phi-4)
        "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",  # Llama 3
        "<|eom_id|>", "<|python_tag|>",
        "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>",  # Llama 2, Mistral
        "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>",  # Gemma
        "<s>", "</s>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>",  # SentencePiece, Zephyr, Phi-3
    }
)  # fmt: skip

# Any `<|...|>` marker, whatever the model (Llama 3's 250 reserved tokens, DeepSeek's full-width `<｜...｜>`).
_PIPE_MARKER = r"[<＜][|｜][^<>\n]{1,64}?[|｜][>＞]"
# `</context>`, `< / CONTEXT >`, `＜text＞`, `<context foo="bar">`: any opening bracket, spacing and case.
_DELIMITER = re.compile(r"[<＜﹤](\s*/?\s*(?:" + "|".join(BLOCK_NAMES) + r")\b[^<>＜＞﹤﹥\n]{0,64})([>＞﹥]?)", re.I)
_LOOKALIKES = str.maketrans({"<": "‹", ">": "›", "＜": "‹", "＞": "›", "[": "⁅", "]": "⁆", "|": "¦", "｜": "¦"})
_WORD_JOINER = "\u2060"  # invisible: breaks a marker made only of letters without changing what a reader sees


def any_of(words: Iterable[str]) -> str:
    """A regex matching any of `words` (the longest where several match), built as a trie: one branch per
    distinct next character, so thousands of markers (Gemma has ~6,000 `<unusedN>`) cost a few character
    tests per position instead of one per marker, as a flat `a|b|c` alternation in `re` would."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here

    def branch(node: dict[str, dict]) -> str:
        options = [re.escape(char) + branch(child) for char, child in sorted(node.items()) if char]
        if not options:
            return ""
        body = options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"
        return f"(?:{body})?" if "" in node else body

    return branch(trie)


def defuse_marker(marker: str) -> str:
    """The marker with its brackets swapped for look-alikes, so no tokenizer or template reads it as one."""
    defused = marker.translate(_LOOKALIKES)
    return defused if defused != marker else marker[:1] + _WORD_JOINER + marker[1:]


@dataclass(frozen=True)
class Quoter:
    """Neutralises block delimiters and the template markers it was built with; one per chat backend."""

    markers: frozenset[str] = GENERIC_TEMPLATE_MARKERS
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        literals = any_of(m for m in self.markers if m.strip())
        pattern = f"{_PIPE_MARKER}|{literals}" if literals else _PIPE_MARKER
        object.__setattr__(self, "_pattern", re.compile(pattern, re.IGNORECASE))

    def quote(self, text: str) -> str:
        """Text safe to embed in a prompt; applying it twice changes nothing more."""
        text = self._pattern.sub(lambda m: defuse_marker(m.group()), text)
        return _DELIMITER.sub(lambda m: "‹" + m.group(1) + ("›" if m.group(2) else ""), text)


GENERIC_QUOTER = Quoter()


def quoter_with(markers: Iterable[str]) -> Quoter:
    """A quoter for a model whose template markers are known, on top of the generic ones."""
    return Quoter(GENERIC_TEMPLATE_MARKERS | frozenset(markers))


def quoter_for(backend: object) -> Quoter:
    """The quoter of a chat backend: its own template markers when it can read them (the local model),
    the generic set otherwise (remote servers do not tell us their tokenizer)."""
    markers = getattr(backend, "template_markers", None)
    return quoter_with(markers) if markers else GENERIC_QUOTER


# What an answer must never show: block tags and turn markers, raw or as `Quoter` writes them (‹/context›,
# ‹¦im_start¦›, ⁅INST⁆), and role headings ("### System:"). A document that quotes them, or a model that copies
# its prompt, would otherwise put prompt markup in front of the user.
_ANY_BRACKET_OPEN, _ANY_BRACKET_CLOSE = "[<＜﹤‹]", "[>＞﹥›]"
_ECHOED_MARKUP = re.compile(
    "|".join(
        [
            _ANY_BRACKET_OPEN
            + r"\s*/?\s*(?:"
            + "|".join(BLOCK_NAMES)
            + r")\b[^<>＜＞﹤﹥‹›\n]{0,64}"
            + _ANY_BRACKET_CLOSE,
            r"[<＜‹][|｜¦][^<>‹›\n]{1,64}?[|｜¦][>＞›]",
            any_of({m for m in GENERIC_TEMPLATE_MARKERS if m not in ("<s>", "</s>")}),  # <s> is HTML strikethrough
            r"⁅/?INST⁆|‹‹/?SYS››|‹(?:start|end)_of_turn›",
            r"^[ \t]*#{1,6}[ \t]*(?:system|assistant|user)[ \t]*:?[ \t]*$",
        ]
    ),
    re.IGNORECASE | re.MULTILINE,
)
_TIDY = ((re.compile(r"[ \t]{2,}"), " "), (re.compile(r"[ \t]*\n[ \t]*"), "\n"), (re.compile(r"\n{3,}"), "\n\n"),
         (re.compile(r" ([.,;:!?])"), r"\1"))  # fmt: skip


def strip_prompt_markup(text: str) -> str:
    """`text` without prompt delimiters or chat-template markers, for what is shown as an answer."""
    if not _ECHOED_MARKUP.search(text):
        return text
    text = _ECHOED_MARKUP.sub(" ", text)
    for pattern, replacement in _TIDY:
        text = pattern.sub(replacement, text)
    return text.strip()
