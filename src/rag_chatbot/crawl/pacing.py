"""Pacing per host: how many requests at once, how often one starts, and Retry-After.

One ``HostLimiter`` a host: a semaphore for the requests at once and a clock for the starts,
so a crawl is never faster than ``rate`` a second whatever its concurrency. A server's
Retry-After pauses every request to that host, not only the one that got it.
"""

from __future__ import annotations

import asyncio
import email.utils
from datetime import UTC, datetime

import httpx


class HostLimiter:
    """At most ``concurrency`` requests at once and one start every ``interval`` seconds."""

    def __init__(self, concurrency: int, interval: float) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self.interval = interval
        self._next = 0.0

    async def __aenter__(self) -> None:
        await self._slots.acquire()
        try:
            loop = asyncio.get_running_loop()
            now = loop.time()
            turn = max(now, self._next)
            self._next = turn + self.interval
            if turn > now:
                await asyncio.sleep(turn - now)
        except BaseException:
            self._slots.release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()

    def pause(self, seconds: float) -> None:
        """No request starts for ``seconds`` (a server's Retry-After)."""
        self._next = max(self._next, asyncio.get_running_loop().time() + seconds)


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds a Retry-After header asks for (a number or an HTTP date), None without one."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
