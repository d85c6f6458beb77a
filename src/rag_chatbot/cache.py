"""ResponseCache: answers to repeated questions, in Redis or in process.

The key (``ResponseCache.key``, the one place a key is made) covers everything an answer
depends on: the normalized question, the standalone query actually searched (a follow-up
depends on its conversation), the selected text, the generator, and the index version
(``DocumentRepository.index_version``), so any ingest, re-index or deletion makes older
answers unreachable; they expire after ``CACHE_TTL``. With Redis
unreachable the cache is bypassed — answers are computed as if it were empty — and
``status()`` says ``degraded`` until Redis answers again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Literal

from rag_chatbot.domain import Answer, Citation, normalize_question
from rag_chatbot.keyvalue import KeyValueStore, StoreUnavailable
from rag_chatbot.observability.metrics import record_cache

log = logging.getLogger(__name__)
ANSWERS = "cache:answer:"
_HITS = "cache:stats:hits"
_MISSES = "cache:stats:misses"
Health = Literal["healthy", "degraded", "unhealthy"]


class ResponseCache:
    def __init__(
        self,
        store: KeyValueStore,
        index_version: Callable[[], str],
        *,
        ttl: int = 3600,
        enabled: bool = True,
    ) -> None:
        self._store = store
        self._index_version = index_version
        self.ttl = ttl
        self.enabled = enabled and ttl > 0
        self.latest_version: str | None = None

    @property
    def backend(self) -> str:
        return self._store.backend

    def key(
        self,
        question: str,
        *,
        query: str,
        selected_text: str | None,
        generator: str,
        version: str | None = None,
    ) -> str | None:
        """The key of an answer, or None when nothing is cached (the cache is off, or the
        question is blank); ``version`` is the index version to key on, else it is read now.
        """
        if not self.enabled or not question.strip():
            return None
        parts = [
            normalize_question(question),
            normalize_question(query),
            " ".join((selected_text or "").split()),
            generator,
            self.index_version() if version is None else version,
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    def index_version(self) -> str:
        """The index version, read from the database now (and kept as ``latest_version``)."""
        self.saw_version(self._index_version())
        return self.latest_version or "0"

    def saw_version(self, version: str) -> None:
        """Remember ``version`` as the latest seen (a read, or a history write that saw it).

        ``latest_version`` may be behind the database: whoever keys on it must check the
        version again before the answer counts (``db.exchanges.StaleIndex``).
        """
        self.latest_version = version

    def get(self, key: str) -> Answer | None:
        if not self.enabled:
            return None
        try:
            raw = self._store.get_counted(ANSWERS + key, _HITS, _MISSES)
        except StoreUnavailable:
            return None
        record_cache(raw is not None)
        return None if raw is None else _answer(json.loads(raw))

    async def aget(self, key: str, *, count_miss: bool = True) -> Answer | None:
        """``get`` without blocking the event loop; ``count_miss=False`` leaves a miss uncounted
        (for a caller that then answers through ``get``, which counts it).
        """
        if not self.enabled:
            return None
        try:
            raw = await self._store.aget_counted(
                ANSWERS + key, _HITS, _MISSES if count_miss else None
            )
        except StoreUnavailable:
            return None
        if raw is not None or count_miss:
            record_cache(raw is not None)
        return None if raw is None else _answer(json.loads(raw))

    def contains(self, key: str) -> bool:
        """Whether ``key`` is cached, without counting a hit or a miss."""
        try:
            return self.enabled and self._store.exists(ANSWERS + key)
        except StoreUnavailable:
            return False

    def put(self, key: str, answer: Answer) -> None:
        if not self.enabled:
            return
        # Unreachable: the next identical question is answered again — correct, only slower.
        with contextlib.suppress(StoreUnavailable):
            self._store.set(ANSWERS + key, json.dumps(asdict(answer)).encode(), ttl=self.ttl)

    def clear(self) -> int:
        """Drop every cached answer and the hit counters; the number of answers dropped."""
        removed = self._store.delete_matching(ANSWERS + "*")
        self._store.delete(_HITS, _MISSES)
        return removed

    def stats(self) -> dict[str, object]:
        """Hits, misses, hit rate, keys and memory, across every replica sharing the store."""
        hits = int(self._store.get(_HITS) or 0)
        misses = int(self._store.get(_MISSES) or 0)
        lookups = hits + misses
        return {
            "enabled": self.enabled,
            "backend": self._store.backend,
            "ttl": self.ttl,
            "hits": hits,
            "misses": misses,
            "hit_rate": round(hits / lookups, 4) if lookups else 0.0,
            "keys": sum(1 for _ in self._store.keys(ANSWERS + "*")),
            "memory_bytes": self._store.memory_bytes(ANSWERS + "*"),
        }

    def status(self) -> Health:
        """``healthy``, or ``degraded`` while Redis does not answer (the service still works)."""
        return "healthy" if self._store.ping() else "degraded"


def _answer(data: dict[str, object]) -> Answer:
    citations = data.get("citations") or []
    assert isinstance(citations, list)
    return Answer(
        answer=str(data["answer"]),
        grounded=bool(data["grounded"]),
        confidence=_confidence(data.get("confidence")),
        citations=tuple(Citation(**c) for c in citations),
        generator=str(data.get("generator") or ""),
    )


def _confidence(value: object) -> float | None:
    # Answers cached before confidence was reported have none.
    return float(value) if isinstance(value, int | float) else None


__all__ = ["ANSWERS", "ResponseCache", "StoreUnavailable", "normalize_question"]
