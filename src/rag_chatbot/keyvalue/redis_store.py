"""RedisStore: the key-value store shared by every replica, with a circuit breaker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from rag_chatbot.keyvalue.base import StoreUnavailable

log = logging.getLogger(__name__)
# The running loop's client (asyncio connections belong to one loop) and its two scripts.
_AsyncClient = tuple[asyncio.AbstractEventLoop, aioredis.Redis, AsyncScript, AsyncScript]

# A reply slower than this means Redis is hung: the call fails and the breaker opens. Redis
# answers in well under a millisecond, but the time is counted by a client that may be waiting
# for its own turn on a saturated CPU: under load the service's p99 is ~0.4 s, and a 0.5 s
# timeout opened the breaker with Redis healthy (the cache was then bypassed for a second).
SOCKET_TIMEOUT = 2.0
_TIMEOUTS: dict[str, Any] = {
    "socket_connect_timeout": 0.25,
    "socket_timeout": SOCKET_TIMEOUT,
    "retry_on_timeout": False,
}
# The rate limiter's counts, one script call: a pipeline of INCR + EXPIRE a key cost a
# third more of the client's CPU, on every request.
_INCR_MANY = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCR', key)
  redis.call('EXPIRE', key, ARGV[1], 'NX')
end
return counts
"""
_GET_COUNTED = """
local value = redis.call('GET', KEYS[1])
if value then redis.call('INCR', KEYS[2]) elseif KEYS[3] then redis.call('INCR', KEYS[3]) end
return value
"""


class RedisStore:
    """Redis through redis-py, with short timeouts and a circuit breaker (see module doc)."""

    backend = "redis"

    def __init__(self, url: str, prefix: str = "", retry_seconds: float = 1.0) -> None:
        self._url = url
        self._async: _AsyncClient | None = None
        self._prefix = prefix
        self._retry_seconds = retry_seconds
        self._down_until = 0.0
        self._client = redis.Redis.from_url(url, **_TIMEOUTS)
        self._get_counted = self._client.register_script(_GET_COUNTED)

    @property
    def client(self) -> redis.Redis:
        return self._client

    @property
    def available(self) -> bool:
        """False while the breaker is open (a recent call failed)."""
        return time.monotonic() >= self._down_until

    def _guard(self) -> None:
        if not self.available:
            raise StoreUnavailable("redis is unreachable (retrying shortly)")

    def _failed(self, exc: Exception) -> StoreUnavailable:
        if self.available:
            log.warning("redis unreachable", extra={"reason": f"{type(exc).__name__}: {exc}"})
        self._down_until = time.monotonic() + self._retry_seconds
        return StoreUnavailable(f"redis is unreachable: {exc}")

    def get(self, key: str) -> bytes | None:
        self._guard()
        try:
            value = self._client.get(self._prefix + key)
        except redis.RedisError as exc:
            raise self._failed(exc) from exc
        return value if value is None or isinstance(value, bytes) else str(value).encode()

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self._guard()
        try:
            self._client.set(self._prefix + key, value, px=None if ttl is None else int(ttl * 1000))
        except redis.RedisError as exc:
            raise self._failed(exc) from exc

    def add(self, key: str, value: bytes, ttl: float) -> bool:
        self._guard()
        try:
            return bool(self._client.set(self._prefix + key, value, px=int(ttl * 1000), nx=True))
        except redis.RedisError as exc:
            raise self._failed(exc) from exc

    def get_counted(self, key: str, hit_counter: str, miss_counter: str) -> bytes | None:
        self._guard()
        keys = [self._prefix + k for k in (key, hit_counter, miss_counter)]
        try:
            value = self._get_counted(keys=keys)
        except redis.RedisError as exc:
            raise self._failed(exc) from exc
        return value if value is None or isinstance(value, bytes) else str(value).encode()

    def exists(self, key: str) -> bool:
        self._guard()
        try:
            return bool(self._client.exists(self._prefix + key))
        except redis.RedisError as exc:
            raise self._failed(exc) from exc

    def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        self._guard()
        try:
            return int(self._client.delete(*(self._prefix + k for k in keys)))
        except redis.RedisError as exc:
            raise self._failed(exc) from exc

    def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        self._guard()
        full = self._prefix + key
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.incrby(full, amount)
            if ttl is not None:
                pipe.expire(full, max(1, int(ttl)), nx=True)
            return int(pipe.execute()[0])
        except redis.RedisError as exc:
            raise self._failed(exc) from exc

    def _async_client(self) -> aioredis.Redis:
        """A client of the running event loop's own (asyncio connections belong to one loop)."""
        return self._async_state()[1]

    def _async_state(self) -> _AsyncClient:
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            client = aioredis.Redis.from_url(self._url, **_TIMEOUTS)
            scripts = (client.register_script(_GET_COUNTED), client.register_script(_INCR_MANY))
            self._async = (loop, client, scripts[0], scripts[1])
        return self._async

    async def aget_counted(
        self, key: str, hit_counter: str, miss_counter: str | None
    ) -> bytes | None:
        self._guard()
        counters = [hit_counter] if miss_counter is None else [hit_counter, miss_counter]
        try:
            value = await self._async_state()[2](keys=[self._prefix + k for k in (key, *counters)])
        except (redis.RedisError, OSError) as exc:
            raise self._failed(exc) from exc
        return value if value is None or isinstance(value, bytes) else str(value).encode()

    async def aincr_many(self, keys: list[str], ttl: float) -> list[int]:
        self._guard()
        try:
            counts = await self._async_state()[3](
                keys=[self._prefix + k for k in keys], args=[max(1, int(ttl))]
            )
        except (redis.RedisError, OSError) as exc:
            raise self._failed(exc) from exc
        return [int(v) for v in counts]

    async def aget_many(self, keys: list[str]) -> list[bytes | None]:
        self._guard()
        try:
            values = await self._async_client().mget([self._prefix + k for k in keys])
        except (redis.RedisError, OSError) as exc:
            raise self._failed(exc) from exc
        return [v if v is None or isinstance(v, bytes) else str(v).encode() for v in values]

    def keys(self, pattern: str) -> Iterator[str]:
        self._guard()
        try:
            found = list(self._client.scan_iter(match=self._prefix + pattern, count=1000))
        except redis.RedisError as exc:
            raise self._failed(exc) from exc
        cut = len(self._prefix)
        return iter([(k.decode() if isinstance(k, bytes) else str(k))[cut:] for k in found])

    def delete_matching(self, pattern: str) -> int:
        removed = 0
        batch: list[str] = []
        for key in self.keys(pattern):
            batch.append(key)
            if len(batch) == 500:
                removed += self.delete(*batch)
                batch.clear()
        return removed + self.delete(*batch)

    def memory_bytes(self, pattern: str, sample: int = 10_000) -> int:
        """Sum of ``MEMORY USAGE`` over the matching keys (the first ``sample`` of them)."""
        self._guard()
        try:
            pipe = self._client.pipeline(transaction=False)
            for n, key in enumerate(self._client.scan_iter(match=self._prefix + pattern)):
                if n >= sample:
                    break
                pipe.memory_usage(key)
            return sum(int(size or 0) for size in pipe.execute())
        except redis.RedisError as exc:
            raise self._failed(exc) from exc

    def ping(self) -> bool:
        try:
            self._client.ping()
        except redis.RedisError as exc:
            self._failed(exc)
            return False
        self._down_until = 0.0
        return True

    def close(self) -> None:
        self._client.close()
