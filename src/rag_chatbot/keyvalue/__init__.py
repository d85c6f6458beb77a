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

from rag_chatbot.keyvalue.base import KeyValueStore, StoreUnavailable
from rag_chatbot.keyvalue.memory import MemoryStore
from rag_chatbot.keyvalue.redis_store import RedisStore

__all__ = ["KeyValueStore", "MemoryStore", "RedisStore", "StoreUnavailable", "build_store"]


def build_store(redis_url: str | None, prefix: str = "") -> KeyValueStore:
    """Redis when ``redis_url`` is set, else an in-process store."""
    return RedisStore(redis_url, prefix) if redis_url else MemoryStore(prefix)
