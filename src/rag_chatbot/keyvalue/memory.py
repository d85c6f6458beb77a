"""MemoryStore: the key-value store of one process (no REDIS_URL)."""

from __future__ import annotations

import fnmatch
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator


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

    def add(self, key: str, value: bytes, ttl: float) -> bool:
        with self._lock:
            if self._live(self._prefix + key) is not None:
                return False
            self._put(self._prefix + key, value, ttl)
            return True

    def exists(self, key: str) -> bool:
        return self.get(key) is not None

    def get_counted(self, key: str, hit_counter: str, miss_counter: str) -> bytes | None:
        value = self.get(key)
        self.incr(hit_counter if value is not None else miss_counter)
        return value

    async def aget_counted(
        self, key: str, hit_counter: str, miss_counter: str | None
    ) -> bytes | None:
        value = self.get(key)
        if value is not None or miss_counter is not None:
            self.incr(hit_counter if value is not None else miss_counter or "")
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
        """``incr`` each key by one (the rate limiter's fallback calls it directly)."""
        return [self.incr(key, 1, ttl) for key in keys]

    async def aincr_many(self, keys: list[str], ttl: float) -> list[int]:
        return self.incr_many(keys, ttl)

    async def aget_many(self, keys: list[str]) -> list[bytes | None]:
        return [self.get(key) for key in keys]

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
