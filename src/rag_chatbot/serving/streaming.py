"""A blocking iterator run in one worker thread, its items handed to the event loop as they come.

Starlette runs a sync iterator behind a ``StreamingResponse`` one ``next()`` per trip through
the thread pool. A streamed answer is a few sentences, then the stored reply: each a trip,
waiting its turn for a thread and then for the event loop. Under load that queueing, not the
work, took about half of each stream's time (``benchmarks/load.py``, docs/benchmarks.md).
``relay`` makes one trip: the thread produces every item and
posts each to the loop, which sends it as soon as it lands. What a stream that failed after it
started sends is the API's to say (``api.errors.stream_error``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar, cast

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")
_END = object()


async def relay(
    produce: Callable[[], Iterator[T]],
    in_thread: Callable[[Callable[[], None]], Awaitable[None]] = run_in_threadpool,
) -> AsyncIterator[T]:
    """The items of ``produce()``, which runs in a worker thread, yielded on the event loop.

    ``in_thread`` runs the producing loop in a worker thread (default: Starlette's pool; both
    answering routes, ``/api/chat`` and ``/v1/chat/completions``, pass ``AnswerThreads.run``).

    Contract:
    - An exception raised by ``produce`` or while iterating is raised here, after the items
      before it; so an error before the first item reaches the caller's first ``anext``.
    - When the consumer stops early (the client went away), the producer stops after the item
      it is making and its iterator is closed (generators run their ``finally``).
    - Items keep their order; each is yielded as soon as it is produced.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[object, BaseException | None]] = asyncio.Queue()
    stopped = threading.Event()

    def post(item: object, error: BaseException | None = None) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (item, error))
        except RuntimeError:  # the loop has closed: nobody is listening any more
            stopped.set()

    def run() -> None:
        try:
            items = produce()
            try:
                for item in items:
                    post(item)
                    if stopped.is_set():
                        break
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # handed to the consumer, raised there
            post(_END, exc)
        else:
            post(_END)

    worker = asyncio.ensure_future(in_thread(run))
    try:
        while True:
            item, error = await queue.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield cast(T, item)
    finally:
        stopped.set()
        if worker.done():
            worker.result()
