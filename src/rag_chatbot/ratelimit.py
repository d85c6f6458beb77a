"""Rate limits per user and per IP, with separate budgets for chat, upload, auth and the rest.

Fixed windows counted in the key-value store: ``ratelimit:<scope>:<who>:<window>`` is
incremented by each request and expires with its window. In Redis the counts are shared by
every API replica; while Redis is unreachable each process counts in memory instead (the
limit then holds per process), and Redis takes over again when it answers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from rag_chatbot.config import Settings, parse_rate
from rag_chatbot.keyvalue import KeyValueStore, MemoryStore, StoreUnavailable

SCOPES = ("chat", "upload", "auth", "default")


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int


@dataclass(frozen=True)
class Decision:
    """The outcome for one request: allowed or not, and what the response headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until the window ends

    def headers(self) -> list[tuple[bytes, bytes]]:
        found = [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", str(self.reset_after).encode()),
        ]
        if not self.allowed:
            found.append((b"retry-after", str(self.reset_after).encode()))
        return found


class RateLimiter:
    def __init__(self, store: KeyValueStore, limits: dict[str, Limit]) -> None:
        self._store = store
        self._fallback = MemoryStore()
        self._limits = limits

    @classmethod
    def from_settings(cls, store: KeyValueStore, settings: Settings) -> RateLimiter:
        rates = {
            "chat": settings.rate_limit_chat,
            "upload": settings.rate_limit_upload,
            "auth": settings.rate_limit_auth,
            "default": settings.rate_limit_default,
        }
        return cls(store, {scope: Limit(*parse_rate(rate)) for scope, rate in rates.items()})

    async def check(self, scope: str, identities: list[str], now: float | None = None) -> Decision:
        """Count one request of ``scope`` against each identity (``ip:…``, ``user:…``).

        Refused when any identity is over its limit. ``async``: the ASGI middleware calls it
        for every request, and Redis must not block the event loop.
        """
        limit = self._limits[scope]
        now = time.time() if now is None else now
        window = int(now // limit.seconds)
        reset_after = max(1, math.ceil((window + 1) * limit.seconds - now))
        keys = [f"ratelimit:{scope}:{who}:{window}" for who in identities]
        try:
            counts = await self._store.aincr_many(keys, ttl=limit.seconds + 1)
        except StoreUnavailable:
            counts = self._fallback.incr_many(keys, ttl=limit.seconds + 1)
        worst = max(counts, default=0)
        return Decision(
            allowed=worst <= limit.count,
            limit=limit.count,
            remaining=max(0, limit.count - worst),
            reset_after=reset_after,
        )


def scope_of(method: str, path: str) -> str | None:
    """Which budget a request draws on; ``None`` for what is never limited."""
    if method == "OPTIONS" or path.startswith(("/api/health", "/api/metrics", "/static/")):
        return None
    if path in ("/health", "/widget.js", "/favicon.ico"):
        return None
    if method == "POST" and path in ("/api/chat", "/v1/chat/completions"):
        return "chat"
    if method == "POST" and path == "/api/documents":
        return "upload"
    if method == "POST" and path in ("/api/auth/login", "/api/auth/register", "/api/auth/refresh"):
        return "auth"
    return "default"
