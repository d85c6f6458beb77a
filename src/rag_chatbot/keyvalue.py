"""The key-value store behind login sessions, the response cache and rate limits.

``RedisStore`` when ``REDIS_URL`` is set (shared by every API replica), else ``MemoryStore``
(one process). Both speak the same small interface, and keys are given without the deployment
prefix (``REDIS_KEY_PREFIX``), which the store adds.

Redis may go away. ``RedisStore`` then raises ``StoreUnavailable`` at once instead of waiting
on every call: after a failure it stops trying for ``retry_seconds`` (a circuit breaker), and
the first call after that tries again — so the service recovers by itself when Redis is back.
Each user of the store decides what an outage means for it (the cache is bypassed, rate limits
fall back to a ``MemoryStore``, logins wait).
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, Protocol

import redis
import redis.asyncio as aioredis

log = logging.getLogger(__name__)


class StoreUnavailable(Exception):
    """The backing store cannot be reached right now."""


class KeyValueStore(Protocol):
    """Bytes under string keys, with expiry. ``StoreUnavailable`` when the backend is down."""

    backend: str

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None: ...

    def exists(self, key: str) -> bool: ...

    def get_counted(self, key: str, hit_counter: str, miss_counter: str) -> bytes | None:
        """``get``, adding one to ``hit_counter`` or ``miss_counter`` (one round trip)."""
        ...

    def delete(self, *keys: str) -> int: ...

    def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add ``amount``; a new key expires after ``ttl`` (an existing one keeps its expiry)."""
        ...

    def incr_many(self, keys: list[str], ttl: float) -> list[int]:
        """``incr`` each key by one, in one round trip."""
        ...

    async def aincr_many(self, keys: list[str], ttl: float) -> list[int]:
        """``incr_many`` without blocking the event loop (for ASGI middleware)."""
        ...

    async def aexists(self, key: str) -> bool:
        """``exists`` without blocking the event loop."""
        ...

    def keys(self, pattern: str) -> Iterator[str]:
        """Keys matching a glob ``pattern`` (prefix removed)."""
        ...

    def delete_matching(self, pattern: str) -> int: ...

    def memory_bytes(self, pattern: str) -> int:
        """Approximate bytes held by the keys matching ``pattern``."""
        ...

    def ping(self) -> bool:
        """Reach the backend now (ignoring the breaker); ``True`` when it answers."""
        ...


class MemoryStore:
    """In-process store: a dict with expiry, capped at ``max_keys`` (oldest evicted first)."""

    backend = "memory"

    def __init__(self, prefix: str = "", max_keys: int = 100_000) -> None:
        self._prefix = prefix
        self._max_keys = max_keys
        self._data: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()
        self._lock = threading.Lock()

    def _live(self, key: str) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= time.monotonic():
            del self._data[key]
            return None
        return value

    def _put(self, key: str, value: bytes, ttl: float | None) -> None:
        self._data[key] = (value, None if ttl is None else time.monotonic() + ttl)
        self._data.move_to_end(key)
        while len(self._data) > self._max_keys:
            self._data.popitem(last=False)

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._live(self._prefix + key)

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        with self._lock:
            self._put(self._prefix + key, value, ttl)

    def exists(self, key: str) -> bool:
        return self.get(key) is not None

    def get_counted(self, key: str, hit_counter: str, miss_counter: str) -> bytes | None:
        value = self.get(key)
        self.incr(hit_counter if value is not None else miss_counter)
        return value

    def delete(self, *keys: str) -> int:
        with self._lock:
            return sum(self._data.pop(self._prefix + k, None) is not None for k in keys)

    def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        full = self._prefix + key
        with self._lock:
            current = self._live(full)
            if current is None:
                value = amount
                self._put(full, str(value).encode(), ttl)
            else:
                value = int(current) + amount
                self._data[full] = (str(value).encode(), self._data[full][1])
            return value

    def incr_many(self, keys: list[str], ttl: float) -> list[int]:
        return [self.incr(key, 1, ttl) for key in keys]

    async def aincr_many(self, keys: list[str], ttl: float) -> list[int]:
        return self.incr_many(keys, ttl)

    async def aexists(self, key: str) -> bool:
        return self.exists(key)

    def keys(self, pattern: str) -> Iterator[str]:
        with self._lock:
            names = [k for k in self._data if self._live(k) is not None]
        full = self._prefix + pattern
        return iter([k[len(self._prefix) :] for k in names if fnmatch.fnmatchcase(k, full)])

    def delete_matching(self, pattern: str) -> int:
        return self.delete(*list(self.keys(pattern)))

    def memory_bytes(self, pattern: str) -> int:
        with self._lock:
            full = self._prefix + pattern
            return sum(
                len(k) + len(v) for k, (v, _) in self._data.items() if fnmatch.fnmatchcase(k, full)
            )

    def ping(self) -> bool:
        return True


_TIMEOUTS: dict[str, Any] = {
    "socket_connect_timeout": 0.25,
    "socket_timeout": 0.5,
    "retry_on_timeout": False,
}
_GET_COUNTED = """
local value = redis.call('GET', KEYS[1])
if value then redis.call('INCR', KEYS[2]) else redis.call('INCR', KEYS[3]) end
return value
"""


class RedisStore:
    """Redis through redis-py, with short timeouts and a circuit breaker (see module doc)."""

    backend = "redis"

    def __init__(self, url: str, prefix: str = "", retry_seconds: float = 1.0) -> None:
        self._url = url
        self._async: tuple[asyncio.AbstractEventLoop, aioredis.Redis] | None = None
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

    def incr_many(self, keys: list[str], ttl: float) -> list[int]:
        self._guard()
        try:
            pipe = self._client.pipeline(transaction=False)
            for key in keys:
                pipe.incr(self._prefix + key)
                pipe.expire(self._prefix + key, max(1, int(ttl)), nx=True)
            return [int(v) for v in pipe.execute()[::2]]
        except redis.RedisError as exc:
            raise self._failed(exc) from exc

    def _async_client(self) -> aioredis.Redis:
        """A client of the running event loop's own (asyncio connections belong to one loop)."""
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            client = aioredis.Redis.from_url(self._url, **_TIMEOUTS)
            self._async = (loop, client)
        return self._async[1]

    async def aincr_many(self, keys: list[str], ttl: float) -> list[int]:
        self._guard()
        try:
            pipe = self._async_client().pipeline(transaction=False)
            for key in keys:
                pipe.incr(self._prefix + key)
                pipe.expire(self._prefix + key, max(1, int(ttl)), nx=True)
            return [int(v) for v in (await pipe.execute())[::2]]
        except (redis.RedisError, OSError) as exc:
            raise self._failed(exc) from exc

    async def aexists(self, key: str) -> bool:
        self._guard()
        try:
            return bool(await self._async_client().exists(self._prefix + key))
        except (redis.RedisError, OSError) as exc:
            raise self._failed(exc) from exc

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


def build_store(redis_url: str | None, prefix: str = "") -> KeyValueStore:
    """Redis when ``redis_url`` is set, else an in-process store."""
    return RedisStore(redis_url, prefix) if redis_url else MemoryStore(prefix)
