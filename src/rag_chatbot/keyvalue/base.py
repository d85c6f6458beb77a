"""The key-value store interface and its one error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol


class StoreUnavailable(Exception):
    """The backing store cannot be reached right now."""


class KeyValueStore(Protocol):
    """Bytes under string keys, with expiry. ``StoreUnavailable`` when the backend is down."""

    backend: str

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None: ...

    def add(self, key: str, value: bytes, ttl: float) -> bool:
        """``set`` only if ``key`` is absent, atomically; ``True`` when it was set."""
        ...

    def exists(self, key: str) -> bool: ...

    def get_counted(self, key: str, hit_counter: str, miss_counter: str) -> bytes | None:
        """``get``, adding one to ``hit_counter`` or ``miss_counter`` (one round trip)."""
        ...

    async def aget_counted(
        self, key: str, hit_counter: str, miss_counter: str | None
    ) -> bytes | None:
        """``get_counted`` without blocking the event loop; ``miss_counter=None``: not counted."""
        ...

    def delete(self, *keys: str) -> int: ...

    def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add ``amount``; a new key expires after ``ttl`` (an existing one keeps its expiry)."""
        ...

    async def aincr_many(self, keys: list[str], ttl: float) -> list[int]:
        """``incr`` each key by one, in one round trip, without blocking the event loop."""
        ...

    async def aget_many(self, keys: list[str]) -> list[bytes | None]:
        """``get`` of each key, in one round trip, without blocking the event loop."""
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
