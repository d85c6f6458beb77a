"""How many answers one server worker computes at once (``Container.chat_threads``).

Answering runs in AnyIO's worker threads. Left to its default limit (40 at once), 16 streams on
one worker each took a thread and took turns at the GIL: every answer made progress, none
finished early. Capped at three per core, the rest wait their turn without a thread, and the
ones running finish sooner (``benchmarks/load.py``, 32 clients, 2 workers on 2 cores, three
interleaved pairs of runs of the cap alone: time to the first streamed event p95
142/128/133 ms against 147/138/154 ms uncapped, JSON p95 no worse). The cap covers answering
only: other endpoints keep AnyIO's default limit, so uploads, health and search never queue
behind questions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request

T = TypeVar("T")


class AnswerThreads:
    """Runs blocking answering work in a worker thread, at most ``total`` calls at once.

    Contract: ``run(fn)`` returns ``fn()``'s result (or raises its exception) and waits,
    without holding a thread, while ``total`` calls are already running. The limiter is made
    on first use, inside the event loop (AnyIO needs one), and serves the app from then on.
    """

    def __init__(self, total: int) -> None:
        if total < 1:
            raise ValueError(f"total must be >= 1, got {total}")
        self.total = total
        self._limiter: anyio.CapacityLimiter | None = None

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.total)
        return self._limiter

    async def run(self, fn: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(fn, limiter=self.limiter)


async def _answer_threads(request: Request) -> AnswerThreads:
    # ``async``, as in ``api.deps``: a plain ``def`` dependency would cost a thread hop.
    threads: AnswerThreads = request.app.state.answer_threads
    return threads


AnswerThreadsDep = Annotated[AnswerThreads, Depends(_answer_threads)]
