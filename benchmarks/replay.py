"""Do a capable model's correct answers survive the answer checker, and are its wrong ones stopped? (issue 23)

    .venv/bin/python benchmarks/replay.py \
        kb-dev=../shared/eval/kb-dev:/tmp/kb-dev-docs handbook-dev=../shared/eval/handbook-dev \
        [--work /tmp/replay-work] [--json]

Each argument is NAME=QA_SET_DIR[:DOCS_DIR] (docs default: QA_SET_DIR/docs). Each set's documents are ingested
into a data directory of its own under --work (reused when present), as `rag eval` ingests them (recursively).

The "model" is a replay server: a real OpenAI-compatible HTTP server on 127.0.0.1 (POST /v1/chat/completions,
streaming or not; GET /v1/models) that reads the question from the prompt, looks it up in the QA set and
answers, whatever the sources say, with
- `reference`: that question's reference answer: a correct answer, paraphrased by whoever wrote the set;
- `wrong`: the reference answer of the next answerable question of the file (a fluent, cited, wrong answer).
Every sentence of the reply is followed by the `[n]` of the first source in the prompt whose label names a gold
file (by base name) and page of the answer it gives, the one sharing most words with its gold evidence when
several do (`[1]` when none is there): a wrong answer cites its own source when retrieval happened to bring it,
the hardest case for the checker.

Every answerable question goes through the answer service as /v1/query runs it (`prepare`, then `stream` to
`Finished`), with the chat backend pointed at the replay server, in generate mode. Reported per set and mode:
kept (the final answer is not an abstention) over all answerable questions, and over those that passed the
answerability gate (`prepare` did not abstain), the abstain reasons, and which answers went the wrong way.
Targets (issue 23): reference kept >= 0.90, wrong kept <= 0.05.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# benchmarks/ingest.py would shadow the ingest package; the checkout goes after PYTHONPATH, so that
# PYTHONPATH=/other/checkout measures that checkout's code.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"] + [str(ROOT)]

from cli.eval import PipelineIngestor  # noqa: E402
from rag.answering.quoting import GENERIC_QUOTER  # noqa: E402
from rag.answering.service import AnswerService, Finished, RetrievalOptions, build_answer_service  # noqa: E402
from rag.backends.base import SamplingParams  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.evaluation.answers import QAItem  # noqa: E402
from rag.evaluation.run import plan_answers  # noqa: E402
from rag.retrieval.components import Components, build_components  # noqa: E402
from rag.text.sentences import split_sentences  # noqa: E402
from rag.text.words import content_words  # noqa: E402

MODES = ("reference", "wrong")
TARGETS = {"reference": (">=", 0.90), "wrong": ("<=", 0.05)}
UNKNOWN_REPLY = "The documents do not contain the answer."

# A source label as rag/answering/prompts.py writes it, alone on its line: "[3] (leave.md)", "[1] (x.pdf, page 12)".
_LABEL = re.compile(r"^\[(\d+)\] \((.+?)(?:, page (-?\d+))?\)$", re.MULTILINE)
_QUESTION = re.compile(r"</context>\s*Question: (.*)\Z", re.DOTALL)


# ---- the replay "model" -----------------------------------------------------------------------------------------


def _key(question: str) -> str:
    return " ".join(question.split()).casefold()


def question_of(prompt: str) -> str | None:
    """The question of an answer prompt: the text after `Question: ` that follows the context."""
    match = _QUESTION.search(prompt)
    return match.group(1).strip() if match else None


@dataclass(frozen=True)
class Source:
    n: int
    name: str  # the file's base name: labels carry no folders
    page: int | None
    text: str


def prompt_sources(prompt: str) -> list[Source]:
    """The numbered sources of the prompt's context, each with its label and its text."""
    context = prompt.split("<context>", 1)[-1].split("</context>", 1)[0]
    labels = list(_LABEL.finditer(context))
    ends = [m.start() for m in labels[1:]] + [len(context)]
    return [Source(int(m.group(1)), m.group(2), int(m.group(3)) if m.group(3) else None, context[m.end() : end])
            for m, end in zip(labels, ends, strict=True)]  # fmt: skip


def gold_source(sources: Sequence[Source], item: QAItem) -> int | None:
    """The source a careful model would cite for `item`'s answer: a gold page (its file matched by base name),
    and among several of those (`travel/index.md` and `leave/index.md` both read `index.md`) the one sharing
    most words with the gold evidence (or the answer)."""
    gold = [s for s in sources if any(PurePosixPath(f).name == s.name and p in (None, s.page) for f, p in item.gold)]
    wanted = set(content_words(item.evidence or item.reference or ""))
    best = max(gold, key=lambda s: len(wanted & set(content_words(s.text))), default=None)
    return best.n if best else None


def cited_reply(answer: str, n: int) -> str:
    """`answer` with ` [n]` after each of its sentences, as the prompt asks a model to write."""
    out, last = [], 0
    for sentence in split_sentences(answer):
        out.append(answer[last : sentence.end] + f" [{n}]")
        last = sentence.end
    return "".join(out) + answer[last:]


class Replay:
    """What the server answers: per question (as quoted in the prompt), the reference and the wrong reply."""

    def __init__(self, items: Sequence[QAItem]) -> None:
        answerable = [i for i in items if i.answerable and i.reference]
        self.by_question: dict[str, QAItem] = {}
        for item in items:
            self.by_question[_key(item.question)] = item
            self.by_question[_key(GENERIC_QUOTER.quote(item.question))] = item
        self.wrong: dict[str, QAItem] = {
            item.id: answerable[(k + 1) % len(answerable)] for k, item in enumerate(answerable)
        }  # fmt: skip
        self.mode = "reference"
        self.unmatched: list[str] = []  # prompts whose question is not in the set
        self.sent: dict[str, tuple[str, bool, str]] = {}  # asked id → (id whose answer was sent, cited gold, text)

    def reply(self, prompt: str) -> str:
        question = question_of(prompt)
        item = self.by_question.get(_key(question)) if question is not None else None
        if item is None or not item.answerable or not item.reference:
            self.unmatched.append((question or prompt)[:120])
            return UNKNOWN_REPLY
        given = self.wrong[item.id] if self.mode == "wrong" else item
        found = gold_source(prompt_sources(prompt), given)
        text = cited_reply(given.reference or "", found or 1)
        self.sent[item.id] = (given.id, found is not None, text)
        return text


class _ReplayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, replay: Replay) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replay = replay
        self.lock = threading.Lock()


def _user_text(body: dict[str, Any]) -> str:
    """The last user message's text (a string, or OpenAI content parts)."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, as real servers
    server: _ReplayHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, obj: Any) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _event(self, data: Any) -> None:
        """One SSE event as one HTTP chunk."""
        payload = f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()
        self.wfile.write(b"%X\r\n%s\r\n" % (len(payload), payload))
        self.wfile.flush()

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": "replay", "object": "model", "owned_by": "replay"}]})
        else:
            self._json(404, {"error": {"message": f"no route GET {self.path}", "type": "not_found_error"}})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._json(404, {"error": {"message": f"no route POST {self.path}", "type": "not_found_error"}})
        try:
            body = json.loads(raw)
            assert isinstance(body, dict)
        except (ValueError, AssertionError):
            return self._json(400, {"error": {"message": "body is not a JSON object", "type": "invalid_request_error"}})
        prompt = _user_text(body)
        with self.server.lock:
            text = self.server.replay.reply(prompt)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"] if isinstance(m, dict))
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split())}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        head = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": body.get("model")}
        if not body.get("stream"):
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            return self._json(200, {**head, "object": "chat.completion", "choices": [choice], "usage": usage})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(delta: dict[str, str], finish: str | None = None, **extra: Any) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return {**head, "object": "chat.completion.chunk", "choices": [choice], **extra}

        self._event(chunk({"role": "assistant", "content": ""}))
        for piece in re.findall(r"\s*\S+\s*", text):
            self._event(chunk({"content": piece}))
        self._event(chunk({}, "stop", usage=usage))
        self._event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")


@contextmanager
def replay_server(replay: Replay) -> Iterator[str]:
    """The replay server on a free port, in a thread; yields its base URL (…/v1)."""
    httpd = _ReplayHTTPServer(replay)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# ---- the run ----------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    id: str
    gated: bool  # passed the answerability gate
    abstained: bool
    reason: str | None
    replied_with: str | None  # the id whose reference answer the server sent (None: the model was not called)
    cited_gold: bool  # the reply cited a source holding the answer it gave
    question: str
    reply: str | None  # what the server sent
    answer: str  # the final answer
    grounding: dict[str, Any] | None  # the checker's report


@dataclass
class ModeReport:
    set: str
    mode: str
    outcomes: list[Outcome] = field(default_factory=list)
    unmatched: int = 0

    def as_dict(self) -> dict[str, Any]:
        n, gated = len(self.outcomes), [o for o in self.outcomes if o.gated]
        kept, kept_gated = sum(not o.abstained for o in self.outcomes), sum(not o.abstained for o in gated)
        # The ones that went the wrong way: dropped reference answers, kept wrong ones.
        wrong_way = [o for o in self.outcomes if o.abstained == (self.mode == "reference")]
        op, target = TARGETS[self.mode]
        share = kept / n if n else 0.0
        return {
            "set": self.set, "mode": self.mode, "questions": n, "kept": kept, "kept_share": round(share, 4),
            "target": f"{op} {target}", "met": share >= target if op == ">=" else share <= target,
            "gated": len(gated), "kept_of_gated": kept_gated,
            "kept_share_of_gated": round(kept_gated / len(gated), 4) if gated else None,
            "abstain_reasons": dict(Counter(o.reason for o in self.outcomes if o.abstained).most_common()),
            "unmatched_prompts": self.unmatched,
            "wrong_way": [{"id": o.id, "reason": o.reason, "replied_with": o.replied_with, "cited_gold": o.cited_gold,
                           "supported": _supported(o.grounding)} for o in wrong_way],
        }  # fmt: skip


def _supported(grounding: dict[str, Any] | None) -> str | None:
    """The checker's verdict as "supported/sentences"."""
    return f"{grounding['supported']}/{grounding['sentences']}" if grounding else None


def ingest(name: str, components: Components, collection: str, docs: Path) -> None:
    failed = PipelineIngestor.open(components).ingest_folder(collection, docs)
    if failed:
        raise SystemExit(f"{name}: {failed[0].filename} failed to ingest: {failed[0].reason}")


async def ask_all(
    name: str, items: Sequence[QAItem], collection: str, settings: Settings, components: Components, replay: Replay
) -> list[ModeReport]:
    """Each answerable question prepared once (retrieval and gate do not depend on the model), then answered
    in each mode."""
    # Built inside the loop: the backend's HTTP client belongs to it.
    service: AnswerService = build_answer_service(settings, components)
    service.retriever.components.embedder.embed_query("warm-up")  # as `rag serve` does before serving
    params = SamplingParams(max_tokens=settings.max_tokens)
    reports = {mode: ModeReport(name, mode) for mode in MODES}
    try:
        for k, item in enumerate(i for i in items if i.answerable):
            prepared = await service.prepare(item.question, collection, RetrievalOptions(), params.max_tokens)
            for mode in MODES:
                replay.mode = mode
                replay.sent.pop(item.id, None)
                final = None
                async for event in service.stream(prepared, params):
                    if isinstance(event, Finished):
                        final = event.answer
                assert final is not None
                replied_with, cited_gold, reply = replay.sent.get(item.id, (None, False, None))
                grounding = final.grounding.as_dict() if final.grounding is not None else None
                reports[mode].outcomes.append(Outcome(item.id, not prepared.abstained, final.abstained,
                                                      final.abstain_reason, replied_with, cited_gold, item.question,
                                                      reply, final.answer, grounding))  # fmt: skip
            if (k + 1) % 10 == 0:
                print(f"{name}: {k + 1} questions asked", file=sys.stderr, flush=True)
    finally:
        await service.backend.aclose()
    return list(reports.values())


def run_set(name: str, qa_dir: Path, docs: Path, work: Path) -> list[ModeReport]:
    import torch

    plan = plan_answers(qa_dir, docs, None, None)
    replay = Replay(plan.items)
    with replay_server(replay) as base_url:
        settings = Settings(data_dir=work / name, chat_base_url=base_url, chat_backend="openai", chat_model="replay",
                            answer_mode="generate", _env_file=None)  # type: ignore[call-arg]  # fmt: skip
        components = build_components(settings)
        started = time.perf_counter()
        ingest(name, components, plan.collection, plan.docs_dir)
        print(f"{name}: documents ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        torch.set_num_threads(settings.serve_torch_threads)  # queries one at a time, as `rag serve` runs them
        reports = asyncio.run(ask_all(name, plan.items, plan.collection, settings, components, replay))
    for report in reports:  # unmatched prompts are counted over both modes; they are the same questions
        report.unmatched = len(replay.unmatched) // len(MODES)
    return reports


def parse_set(spec: str) -> tuple[str, Path, Path]:
    name, _, paths = spec.partition("=")
    if not name or not paths:
        raise argparse.ArgumentTypeError(f"expected NAME=QA_SET_DIR[:DOCS_DIR], got {spec!r}")
    qa, _, docs = paths.partition(":")
    return name, Path(qa), Path(docs) if docs else Path(qa) / "docs"


def print_table(rows: list[dict[str, Any]]) -> None:
    print("| set | mode | kept | kept share | target | met | passed gate | kept of gated | abstain reasons |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        reasons = ", ".join(f"{k}: {v}" for k, v in r["abstain_reasons"].items()) or "-"
        print(f"| {r['set']} | {r['mode']} | {r['kept']}/{r['questions']} | {r['kept_share']:.3f} | {r['target']} |"
              f" {'yes' if r['met'] else 'NO'} | {r['gated']} | {r['kept_of_gated']}/{r['gated']}"
              f" ({r['kept_share_of_gated']}) | {reasons} |")  # fmt: skip
    for r in rows:
        label = "dropped reference answers" if r["mode"] == "reference" else "kept wrong answers"
        print(f"\n{r['set']} {label} ({len(r['wrong_way'])}):")
        for w in r["wrong_way"]:
            sent = f"sent {w['replied_with']}'s answer, " if r["mode"] == "wrong" else ""
            why = (f"{sent}gold source cited: {w['cited_gold']}, checker: {w['supported']} sentences supported"
                   if w["replied_with"] else "the model was not called")  # fmt: skip
            print(f"  {w['id']}: {w['reason'] or 'kept'} ({why})")
        if r["unmatched_prompts"]:
            print(f"  ({r['unmatched_prompts']} prompts named no question of the set)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="+", type=parse_set, metavar="NAME=QA_SET_DIR[:DOCS_DIR]")
    parser.add_argument("--work", type=Path, default=Path("/tmp/replay-work"), help="data dirs, one per set")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--details", type=Path, help="write each answer (reply sent, final answer, checker's report)"
                        " here, one JSON line per set, mode and question")  # fmt: skip
    args = parser.parse_args()
    reports = [report for name, qa, docs in args.sets for report in run_set(name, qa, docs, args.work)]
    if args.details:
        with args.details.open("w", encoding="utf-8") as f:
            for report in reports:
                for outcome in report.outcomes:
                    f.write(json.dumps({"set": report.set, "mode": report.mode, **asdict(outcome)}) + "\n")
    rows = [report.as_dict() for report in reports]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(rows)


if __name__ == "__main__":
    main()
