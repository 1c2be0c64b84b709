"""The answer routes' way to the model: a place in the backend's generation queue (rag/backends/admission.py), held
while the model works for the request and given back as soon as the answer is done or its client left."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, nullcontext
from typing import TypeVar

from api.deps import Services
from rag.backends.admission import Ticket

T = TypeVar("T")


def take_ticket(services: Services, may_generate: bool) -> Ticket | None:
    """A place in line before any work is done, so a full queue answers 429 at once; None when no model runs."""
    return services.generation.ticket() if may_generate else None


def holding(ticket: Ticket | None) -> Ticket | nullcontext[None]:
    """`with holding(ticket):` gives the place back however the block ends."""
    return ticket if ticket is not None else nullcontext()


@contextmanager
def released_on_error(ticket: Ticket | None) -> Iterator[None]:
    """Keep the place if the block succeeds (a stream takes it over), give it back if it fails."""
    try:
        yield
    except BaseException:
        if ticket is not None:
            ticket.release()
        raise


def kept_if(ticket: Ticket | None, needed: bool) -> Ticket | None:
    """The ticket when the model is needed after all; otherwise given back at once."""
    if ticket is not None and not needed:
        ticket.release()
        return None
    return ticket


async def admitted(ticket: Ticket | None, items: AsyncIterator[T]) -> AsyncIterator[T]:
    """Relay `items` once `ticket` holds a running slot; the slot is given back after the model stopped."""
    try:
        if ticket is not None:
            await ticket.wait()
        async for item in items:
            yield item
    finally:
        try:
            await items.aclose()  # ends the backend call (a no-op when it ran to its end)
        finally:
            if ticket is not None:
                ticket.release()
