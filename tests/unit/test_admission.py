"""The generation queue's rules: bounded places, first come first served, a leaver frees its place at once."""

from __future__ import annotations

import asyncio

import pytest

from rag.backends.admission import GenerationQueue
from rag.errors import Overloaded


def test_places_beyond_concurrency_plus_depth_are_refused_with_a_retry_hint() -> None:
    queue = GenerationQueue("local", concurrency=1, depth=2)
    tickets = [queue.ticket() for _ in range(3)]
    with pytest.raises(Overloaded) as refused:
        queue.ticket()
    assert refused.value.status_code == 429 and refused.value.retry_after >= 1
    tickets[0].release()
    queue.ticket()  # a place came free


def test_slots_go_to_waiters_in_arrival_order_and_a_cancelled_waiter_leaves_the_line() -> None:
    async def scenario() -> list[str]:
        queue = GenerationQueue("local", concurrency=1, depth=3)
        order: list[str] = []
        running = queue.ticket()
        await running.wait()

        async def client(name: str) -> None:
            with queue.ticket() as ticket:
                await ticket.wait()
                order.append(name)

        first, leaver, last = (asyncio.create_task(client(n)) for n in ("first", "leaver", "last"))
        await asyncio.sleep(0.01)
        assert queue.stats()["waiting"] == 3
        leaver.cancel()
        await asyncio.sleep(0.01)
        assert queue.stats() == {"running": 1, "waiting": 2, "tickets": 3, "concurrency": 1, "depth": 3}
        running.release()
        await asyncio.gather(first, last)
        assert queue.stats()["tickets"] == 0
        return order

    assert asyncio.run(scenario()) == ["first", "last"]


def test_a_line_whose_expected_wait_is_too_long_counts_as_full() -> None:
    async def scenario() -> None:
        queue = GenerationQueue("local", concurrency=1, depth=10, max_wait_s=30)
        slow = queue.ticket()
        await slow.wait()
        queue._service_s = 20.0  # as measured after a few 20 s generations
        queue.ticket()  # waits about 20 s: fine
        with pytest.raises(Overloaded) as refused:
            queue.ticket()  # would wait about 40 s
        assert refused.value.retry_after == 40

    asyncio.run(scenario())
