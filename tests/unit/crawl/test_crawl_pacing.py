"""Per-host pacing: requests at once, starts per second, and what Retry-After asks for."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx

from rag_chatbot.crawl.pacing import HostLimiter, retry_after


def test_starts_are_spaced_and_requests_at_once_bounded() -> None:
    async def run() -> tuple[list[float], int]:
        limiter = HostLimiter(concurrency=2, interval=0.05)
        loop = asyncio.get_running_loop()
        starts: list[float] = []
        busy = most = 0

        async def request() -> None:
            nonlocal busy, most
            async with limiter:
                starts.append(loop.time())
                busy += 1
                most = max(most, busy)
                await asyncio.sleep(0.02)
                busy -= 1

        await asyncio.gather(*(request() for _ in range(8)))
        return starts, most

    starts, most = asyncio.run(run())
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert most <= 2
    assert min(gaps) >= 0.045


def test_a_pause_holds_every_request_to_the_host() -> None:
    async def run() -> float:
        limiter = HostLimiter(concurrency=4, interval=0.0)
        loop = asyncio.get_running_loop()
        limiter.pause(0.2)
        began = loop.time()
        async with limiter:
            return loop.time() - began

    assert asyncio.run(run()) >= 0.19


def test_retry_after_takes_seconds_or_a_date() -> None:
    assert retry_after(httpx.Headers({"retry-after": "120"})) == 120
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    waited = retry_after(httpx.Headers({"retry-after": later}))
    assert waited is not None and 25 <= waited <= 30
    earlier = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    assert retry_after(httpx.Headers({"retry-after": earlier})) == 0
    assert retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert retry_after(httpx.Headers()) is None
