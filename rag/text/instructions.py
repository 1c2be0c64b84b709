"""Text that gives orders to an AI: a document passage that addresses the assistant reading it, overrides its
instructions or imitates prompt markup. Ingestion stores the verdict with each chunk; answers keep such text out.

Written by hand: the classifiers that do this well (DeBERTa prompt-injection models) download their weights
from the Hugging Face Hub, which this service never does at run time, and the regex packages on PyPI are
young one-author projects, English-only, tuned on user prompts ("you are now DAN") rather than documents.
A document is not a prompt: "You must lock your screen" and "If a customer asks about refunds, ..." are
ordinary policy text. So a passage is flagged for what only text aimed at a model says: it names the model
("note to AI assistants", "if you are a language model"), overrides instructions ("ignore all previous
instructions", "SYSTEM OVERRIDE", in several languages), dictates the answer to every question ("the correct
answer to any parking question is X") or carries prompt markup (`</context>`, `<|im_start|>`, `[INST]`,
"### System:"). Precision first: every rule was run over the sample documents and a 246-file handbook.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass

from rag.types import SearchHit

# Invisible characters an attacker puts inside words ("Ig\u200bnore") to slip past patterns.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u00ad\ufeff"))
# Markdown decoration that splits a phrase without a reader noticing: emphasis, code, table cells, quotes.
_DECORATION = re.compile(r"[*_`|>~#]+|\\")
_SPACE = re.compile(r"\s+")
# Cyrillic and Greek letters that look Latin, for words written with a mix of both ("ignоre" with a Cyrillic о).
_LOOKALIKE = str.maketrans("аеорсухіјѕԁԛԝνοαεκτ", "aeopcyxijsdqwvoaekt")
_MIXED_WORD = re.compile(r"\b(?=\w*[a-z])(?=\w*[а-яіјѕԁԛԝνοαεκτ])\w+\b")

# Prompt markup, read on the raw text: the blocks our prompts use, chat-template turn markers, role headings.
# `<text>` is left out: SVG and XML documents are full of it, and the quoting of prompts already defuses it.
_MARKUP = re.compile(
    r"<\s*/?\s*(?:context|system|instructions?|prompt|sources?|documents?|user|assistant)\s*>"
    r"|[<＜][|｜]\s*(?:im_start|im_end|im_sep|endoftext|eot_id|eom_id|start_header_id|end_header_id|system|user"
    r"|assistant|begin_of_text|end_of_text|end)\s*[|｜][>＞]"
    r"|\[/?INST\]|<</?SYS>>|<\s*/?\s*(?:start|end)_of_turn\s*>"
    r"|^[ \t]*#{1,6}[ \t]*(?:system|assistant|instructions?)(?:[ \t]+(?:prompt|message|override))?[ \t]*:?[ \t]*$"
    r"|^[ \t]*\[?(?:system|assistant)(?:[ \t]+(?:prompt|message|override))?\]?[ \t]*:[ \t]*(?=you\b|ignore\b|from now)",
    re.IGNORECASE | re.MULTILINE,
)

# Read on the folded text (lower case, decoration and invisible characters removed, spaces collapsed).
_AI = (
    r"(?:ai|a\.i\.|artificial intelligence|llms?|(?:large )?language models?|chat ?bots?|chatgpt|gpt(?:-?\d)?|claude"
    r"|gemini|copilot|(?:ai|virtual|digital) (?:assistants?|models?|systems?|agents?))(?![\w-])"
)
_INSTRUCTIONS = (
    r"(?:instructions?|prompts?|rules|directives?|directions|guidelines|context|orders|commands|sources|documents"
    r"|passages)"
)
_REPLY = r"(?:respond|reply|answer|output|say)"
_DICTATED = (  # one word, quoted or closing the sentence, or followed by whom it is for
    r"(?:with|by saying):? (?:[\"'“«]|\w+[.!]?(?: |$)(?!\w)"
    r"|\w+ (?:to|for|when|if) (?:any|every|all|each|questions?|asked))"
)
_PATTERNS: dict[str, tuple[str, ...]] = {
    "overrides instructions": (
        rf"\b(?:ignore|disregard|forget|override|bypass|skip)\b(?: all| any| every| the| of)*(?: your| my)?"
        rf" (?:previous|prior|above|earlier|preceding|former|original|existing|system|other|old)\b[\w ]{{0,20}}?"
        rf"\b{_INSTRUCTIONS}",
        rf"\b(?:ignore|disregard|forget)\b(?: all| any| the)* {_INSTRUCTIONS}\b(?: (?:above|before|so far|given))",
        rf"\b(?:previous|prior|above|earlier|all) {_INSTRUCTIONS} (?:are|is) (?:void|cancell?ed|revoked|obsolete|"
        r"no longer valid|null)",
        r"\b(?:system|admin|administrator|developer|root|security|prompt) override\b",
        r"\b(?:new|updated|real|actual|hidden|secret) (?:system )?(?:instructions?|prompt)\s?:",
        r"\b(?:developer|god|jailbreak|dan) mode\b",
        r"\byour (?:system prompt|instructions? (?:are|is) now|new (?:task|role|instructions?) is)\b",
        r"\bfrom now on,? (?:you (?:will |must |should |shall )?(?:only |always )?|(?:only|always) )"
        r"(?:answer|respond|reply|say|act as|pretend)\b",
        # French, German, Spanish, Italian, Portuguese, Dutch, Russian, Chinese, Japanese
        r"\b(?:ignore[rz]?|oublie[rz]?|ne tenez pas compte de)(?: toutes| tous)?(?: les| vos| tes)?"
        r" (?:instructions|consignes|directives|règles)(?: précédentes| antérieures| ci-dessus| données)",
        r"\bignor(?:iere|ieren sie|ier|iert)(?: alle)?(?: vorherigen| bisherigen| obigen| vorangegangenen| früheren)"
        r" (?:anweisungen|instruktionen|befehle|regeln|vorgaben)",
        r"\bvergiss(?: alle)?(?: vorherigen| bisherigen)? (?:anweisungen|instruktionen|befehle|regeln)",
        r"\b(?:ignora|ignore|olvida|olvide|omite)(?:r)?(?: todas)?(?: las| tus| sus)? (?:instrucciones|indicaciones|"
        r"órdenes|reglas)(?: anteriores| previas)?\b",
        r"\b(?:ignora|dimentica)(?: tutte)?(?: le)? (?:istruzioni|indicazioni)(?: precedenti)?\b",
        r"\b(?:ignore|ignora|esqueça)(?: todas)?(?: as)? (?:instruções|instrucoes)(?: anteriores)?\b",
        r"\b(?:negeer|vergeet)(?: alle)?(?: vorige| eerdere| voorgaande)? (?:instructies|opdrachten)\b",
        r"(?:игнорируй|игнорируйте|забудь|забудьте)(?:те)?(?: все)?(?: предыдущие)? (?:инструкции|указания)",
        r"(?:忽略|无视|忘记|忘掉)(?:之前|以上|上面|先前|前面|所有)?(?:的)?(?:所有)?(?:指令|指示|说明|提示)",
        r"(?:以前|前|上記)の(?:指示|命令|指令)を(?:すべて)?(?:無視|忘れ)",
    ),
    "addresses an AI": (
        rf"\b(?:note|message|instructions?|notice|reminder|attention|memo) (?:to|for) (?:the |any |all |every )?{_AI}",
        rf"\b(?:dear|hey|hello|hi|attention|attn) (?:the )?{_AI}",
        r"\bif you are (?:an? |the )?(?:ai|llm|(?:large )?language model|chat ?bot|ai (?:assistant|model|system))\b",
        rf"\b(?:any|every|all) {_AI} (?:reading|processing|summari[sz]ing|answering|using|that reads?|who reads?)\b",
        r"\byou are (?:now )?an? (?:ai|llm|large language model|language model|helpful assistant)(?![\w-])",
        r"\b(?:note|message|nota|mensaje|hinweis|nachricht|consigne)s? (?:à|a|pour|para|an|für) (?:l'|la |el |die )?"
        r"(?:ia|ki|sprachmodell|modèle de langage|modelo de lenguaje)\b",
        r"\bsi (?:tu es|vous êtes|eres|usted es) (?:une?|el|la)? ?(?:ia|intelligence artificielle|modèle de langage"
        r"|modelo de lenguaje)\b",
        r"\bwenn (?:du|sie) (?:eine? )?(?:ki|sprachmodell|ki-assistent) (?:bist|sind)\b",
        r"(?:如果你是|你是一个?|作为一个?)(?:ai|人工智能|语言模型)",
    ),
    "dictates every answer": (
        r"\b(?:correct|only|right|real|true|proper|official) (?:answer|response|reply) (?:to|for) (?:any|every|all"
        r"|each)\b[\w ]{0,30}\bquestions?\b",
        # "respond only with PWNED", "answer every parking question with X": a dictated word, not a manner ("with care")
        rf"\b{_REPLY} (?:only|solely|just|exclusively) {_DICTATED}",
        rf"\b{_REPLY}(?: to)? (?:any|every|all|each)\b[\w ]{{0,30}}\bquestions? {_DICTATED}",
        r"\b(?:bonne|seule|vraie|correcte) réponse à (?:toute|chaque|n'importe quelle|toutes les) questions?\b",
        r"\bréponds?(?:ez)? (?:uniquement|seulement) (?:par|avec)\b",
        r"\b(?:richtige|einzige|korrekte|wahre) antwort auf (?:jede|alle|sämtliche) fragen?\b",
        r"\bantworte(?:n sie)? (?:nur|ausschließlich|immer) mit\b",
        r"\brespuesta correcta (?:a|para) (?:cualquier|toda|cada|todas las) preguntas?\b",
        r"\bresponde(?:r)? (?:solo|solamente|únicamente) con\b",
        r"\brisposta corretta (?:a|per) (?:qualsiasi|ogni|qualunque) domanda\b",
        r"\bresposta correta (?:a|para) (?:qualquer|toda|cada) pergunta\b",
        r"\bjuiste antwoord op (?:elke|iedere|alle) vragen?\b",
        r"правильный ответ на (?:любой|каждый|все) вопрос",
        r"(?:任何|所有|每个)[^。]{0,10}问题[^。]{0,6}(?:正确)?答案(?:都)?是",
    ),
}
_FOLDED_PATTERNS = [(reason, re.compile(p, re.IGNORECASE)) for reason, ps in _PATTERNS.items() for p in ps]


@dataclass(frozen=True)
class InstructionFinding:
    """Why a text was flagged, and the words that made it so (as they read in the folded text)."""

    reason: str  # "prompt markup" | "overrides instructions" | "addresses an AI" | "dictates every answer"
    evidence: str


def fold(text: str) -> str:
    """The text as the phrase patterns read it: NFKC, lower case, no invisible characters or Markdown decoration,
    look-alike letters of mixed-script words made Latin, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).lower().replace("’", "'")
    text = _MIXED_WORD.sub(lambda m: m.group().translate(_LOOKALIKE), text)
    return _SPACE.sub(" ", _DECORATION.sub(" ", text)).strip()


def find_instructions(text: str) -> InstructionFinding | None:
    """The first sign that `text` speaks to an AI rather than to its human readers, or None."""
    raw = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    markup = _MARKUP.search(raw)
    if markup:
        return InstructionFinding("prompt markup", markup.group().strip())
    folded = fold(text)
    for reason, pattern in _FOLDED_PATTERNS:
        found = pattern.search(folded)
        if found:
            return InstructionFinding(reason, found.group())
    return None


# The chunk metadata that holds the verdict (ingest/preparing.py writes it, readers go through `flag_of`).
FLAG_KEY = "instructions"
REASON_KEY = "instructions_reason"


def flag_of(metadata: dict[str, object], text: str) -> str | None:
    """The reason a stored chunk is flagged, or None: the stored verdict, or a fresh one for chunks stored
    before ingestion recorded it."""
    if FLAG_KEY in metadata:
        return str(metadata.get(REASON_KEY) or "instructions") if metadata[FLAG_KEY] else None
    digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
    with _VERDICTS_LOCK:
        if digest in _VERDICTS:
            _VERDICTS.move_to_end(digest)
            return _VERDICTS[digest]
    finding = find_instructions(text)
    reason = finding.reason if finding else None
    with _VERDICTS_LOCK:
        _VERDICTS[digest] = reason
        if len(_VERDICTS) > _VERDICTS_KEPT:
            _VERDICTS.popitem(last=False)
    return reason


# Verdicts of chunks stored without one, by a digest of their text (the verdict depends on the text alone, and a
# digest keeps no text in memory): every search showing such a chunk would otherwise run all the patterns again,
# an eighth of the server's time in a profile of /v1/search. functools.lru_cache would key on the text itself.
_VERDICTS: OrderedDict[bytes, str | None] = OrderedDict()
_VERDICTS_KEPT = 100_000  # ~10 MB
_VERDICTS_LOCK = threading.Lock()


def flagged(hit: SearchHit) -> bool:
    """Whether a retrieved chunk gives orders to an AI: answers keep it out of the prompt and never quote it."""
    return flag_of(hit.metadata, hit.text) is not None


def unflagged_first(hits: list[SearchHit]) -> list[SearchHit]:
    """The hits in their order, flagged ones moved last: a prefix of the list is then what answers may use,
    numbered as the sources the client sees."""
    return [h for h in hits if not flagged(h)] + [h for h in hits if flagged(h)]
