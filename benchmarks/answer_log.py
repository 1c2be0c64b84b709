"""What keeping answers adds to an answer: the time `AnswerKeeper.record` takes in the answer route (it hands
the record to the log's writer thread), and, for comparison, a direct database write of the same record
(what the route paid before the writer thread), then the time the writer needs to drain the queue.

    .venv/bin/python benchmarks/answer_log.py [--answers 2000] [--database-url postgresql://...]

Prints p50/p95 per engine (SQLite always; PostgreSQL with --database-url).
The issue's target: feedback and insights add at most 2 ms p95 to /v1/query; insights and feedback are
routes of their own, so logging each answer is the only work /v1/query gains.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.answering.feedback import AnswerKeeper, answer_record  # noqa: E402
from rag.answering.service import Answer  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.storage.answers import open_answer_log  # noqa: E402
from rag.types import SearchHit  # noqa: E402

HITS = [SearchHit(f"doc{i}.pdf#v#{i}", f"doc{i}.pdf", f"doc{i}.pdf", i, "text " * 80, 0.5) for i in range(5)]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


def _measure(keeper: AnswerKeeper, count: int) -> tuple[list[float], list[float], float]:
    answer = Answer("", "Full-time employees get 25 days of paid leave [1].", HITS, False, "extractive", "stop")
    queued, direct = [], []
    for i in range(count):
        start = time.perf_counter()
        keeper.record(f"ans-bench-{i}", "hr", "How many days of leave?", answer)
        queued.append(time.perf_counter() - start)
    start = time.perf_counter()
    keeper.flush()
    drain = time.perf_counter() - start
    for i in range(count):
        record = answer_record(f"ans-direct-{i}", "hr", "How many days of leave?", answer, True)
        start = time.perf_counter()
        keeper.log.record(record)
        direct.append(time.perf_counter() - start)
    return queued, direct, drain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    engines = [("sqlite", None)] + ([("postgresql", args.database_url)] if args.database_url else [])
    for engine, url in engines:
        with tempfile.TemporaryDirectory() as data:
            settings = Settings(_env_file=None, data_dir=Path(data), database_url=url)  # type: ignore[call-arg]
            keeper = AnswerKeeper(open_answer_log(settings), True, 90)
            queued, direct, drain = _measure(keeper, args.answers)
            (q50, q95), (d50, d95) = _percentiles(queued), _percentiles(direct)
            print(f"{engine}: {args.answers} answers; in the route (queued): p50 {q50:.3f} ms, p95 {q95:.3f} ms;"
                  f" a direct write: p50 {d50:.3f} ms, p95 {d95:.3f} ms; the writer drained the queue in"
                  f" {drain:.2f} s")  # fmt: skip
            keeper.close()


if __name__ == "__main__":
    main()
