"""How many answers one server worker computes at once (``CHAT_THREADS``, ``chat_threads``).

Answering runs in AnyIO's worker threads. Left to its default limit (40 at once), 16 streams on
one worker each took a thread and took turns at the GIL: every answer made progress, none
finished early. Capped at three per core, the rest wait their turn without a thread, and the
ones running finish sooner: the first streamed event comes earlier at the same JSON latency
(``benchmarks/load.py``; figures in docs/benchmarks.md). The cap covers answering
only: other endpoints keep AnyIO's default limit, so uploads, health and search never queue
behind questions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from rag_chatbot.config import Settings

T = TypeVar("T")
# AnyIO's default thread limit: for answers that mostly wait on a language model's server.
_LLM_CHAT_THREADS = 40
_EXTRACTIVE_THREADS_PER_CORE = 3


def chat_threads(settings: Settings, *, llm: bool, cores: int | None = None) -> int:
    """``CHAT_THREADS`` when set, else what the generator calls for (``llm``: a language model).

    The extractive generator only computes, so more answers at once than a few per core only
    share the cores more finely; a language model's answers wait on its server, so they get
    AnyIO's default.
    """
    if settings.chat_threads:
        return settings.chat_threads
    if llm:
        return _LLM_CHAT_THREADS
    return _EXTRACTIVE_THREADS_PER_CORE * (cores or _cores())


def _cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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
