"""relay: a blocking iterator made in one worker thread, its items yielded on the event loop."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from rag_chatbot.serving.streaming import relay

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # what uvicorn runs


async def test_items_come_in_order_each_as_soon_as_it_is_made() -> None:
    made_first = threading.Event()
    go_on = threading.Event()

    def produce() -> Iterator[str]:
        yield "first"
        made_first.set()
        assert go_on.wait(10), "the consumer never got the first item"
        yield from ("second", "third")

    items = relay(produce)
    # The first item arrives while the producer is still blocked: had relay waited for the
    # whole stream, this would hang until the producer gave up (its assertion, raised here).
    assert await anext(items) == "first"
    assert made_first.wait(10)
    go_on.set()
    assert [item async for item in items] == ["second", "third"]


async def test_an_error_before_the_first_item_is_raised_by_the_first_anext() -> None:
    def produce() -> Iterator[str]:
        raise LookupError("session not found")

    with pytest.raises(LookupError, match="session not found"):
        await anext(relay(produce))


async def test_an_error_mid_stream_comes_after_the_items_before_it() -> None:
    def produce() -> Iterator[str]:
        yield "a"
        yield "b"
        raise ValueError("the model went away")

    got: list[str] = []
    with pytest.raises(ValueError, match="the model went away"):
        async for item in relay(produce):
            got.append(item)
    assert got == ["a", "b"]


async def test_a_consumer_that_stops_early_stops_the_producer_and_closes_it() -> None:
    closed = threading.Event()
    released = threading.Event()
    made: list[int] = []

    def produce() -> Iterator[int]:
        try:
            for n in range(1000):
                made.append(n)
                yield n
                if n == 0:
                    assert released.wait(10)
        finally:
            closed.set()

    items = relay(produce)
    assert await anext(items) == 0
    await items.aclose()  # the client went away after the first event
    released.set()

    assert closed.wait(10), "the producer's generator was never closed"
    assert len(made) <= 2  # it stopped right after the item it was making
