"""TopicStore: the vectors of asked questions and the topics they were put in.

A question's vector is computed once per distinct text (``questions.text_hash``) and kept
with its topic (``question_vectors``); a topic keeps the sum of its members' vectors
(``question_topics``). Several processes may group questions at once (API workers, the command
line): ``locked`` serialises the writers — PostgreSQL's transaction-level advisory lock, SQLite's
write lock — and whoever comes second finds the work done. Vectors are float32 bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import numpy as np
from sqlalchemy import Connection, Engine, Table, bindparam, delete, func, insert, select, update

from rag_chatbot.db.engine import write_lock
from rag_chatbot.db.models import QuestionRow, QuestionTopicRow, QuestionVectorRow

_LOCK_KEY = 0x7261675F746F7069  # "rag_topi": any fixed key, the same in every process
_IN_BATCH = 500
_TOPICS = cast(Table, QuestionTopicRow.__table__)
_VECTORS = cast(Table, QuestionVectorRow.__table__)


@dataclass(frozen=True)
class NewText:
    """A distinct question text that has no vector yet, and when it was first asked."""

    text_hash: str
    text: str
    first_asked: datetime


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


class TopicStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def new_texts(self, limit: int, since: datetime | None = None) -> list[NewText]:
        """Up to ``limit`` question texts without a vector, first asked first (then by hash).

        ``since``: look only at questions asked from then on (what arrived since a look): read
        by ``asked_at`` alone, the few recent rows, and checked against the vectors here.
        """
        if since is not None:
            return self._new_since(limit, since)
        first = func.min(QuestionRow.asked_at)
        query = (
            select(QuestionRow.text_hash, func.min(QuestionRow.text), first)
            .outerjoin(QuestionVectorRow, QuestionVectorRow.text_hash == QuestionRow.text_hash)
            .where(QuestionVectorRow.text_hash.is_(None))
            .group_by(QuestionRow.text_hash)
            .order_by(first, QuestionRow.text_hash)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return [NewText(h, t, at) for h, t, at in connection.execute(query)]

    def _new_since(self, limit: int, since: datetime) -> list[NewText]:
        recent = select(QuestionRow.text_hash, QuestionRow.text, QuestionRow.asked_at).where(
            QuestionRow.asked_at >= since
        )
        found: dict[str, NewText] = {}
        with self._engine.connect() as connection:
            for text_hash, text, at in connection.execute(recent):
                seen = found.get(text_hash)
                if seen is not None:  # as the full query: the least text, the first time
                    text, at = min(text, seen.text), min(at, seen.first_asked)
                found[text_hash] = NewText(text_hash, text, at)
            known = self.known(connection, sorted(found))
        waiting = sorted(
            (t for h, t in found.items() if h not in known),
            key=lambda t: (t.first_asked, t.text_hash),
        )
        return waiting[:limit]

    @contextmanager
    def locked(self) -> Iterator[Connection]:
        """A transaction that no other writer of topics runs beside."""
        with write_lock(self._engine), self._engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(select(func.pg_advisory_xact_lock(_LOCK_KEY)))
            yield connection

    @staticmethod
    def model(connection: Connection) -> str | None:
        """The model the stored vectors were made with (None when there are none)."""
        return connection.scalar(select(QuestionTopicRow.model).limit(1))

    @staticmethod
    def clear(connection: Connection) -> None:
        """Forget every vector and topic (the embedding model changed)."""
        connection.execute(delete(QuestionVectorRow))
        connection.execute(delete(QuestionTopicRow))

    @staticmethod
    def known(connection: Connection, hashes: Sequence[str]) -> set[str]:
        """Which of ``hashes`` have a vector already."""
        found: set[str] = set()
        for start in range(0, len(hashes), _IN_BATCH):
            part = list(hashes[start : start + _IN_BATCH])
            query = select(QuestionVectorRow.text_hash).where(QuestionVectorRow.text_hash.in_(part))
            found.update(connection.scalars(query))
        return found

    @staticmethod
    def topics(connection: Connection) -> tuple[list[int], list[bytes], list[int]]:
        """Every topic's id, centroid sum and member count, by id."""
        rows = connection.execute(
            select(
                QuestionTopicRow.id, QuestionTopicRow.centroid, QuestionTopicRow.members
            ).order_by(QuestionTopicRow.id)
        ).all()
        return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]

    @staticmethod
    def save(
        connection: Connection,
        model: str,
        vectors: Iterable[tuple[str, int, bytes]],
        started: Iterable[tuple[int, bytes, int]],
        changed: Iterable[tuple[int, bytes, int]],
    ) -> None:
        """Store ``(text_hash, topic, vector)`` rows, new topics and grown ones."""
        new_topics = [{"id": i, "model": model, "centroid": c, "members": m} for i, c, m in started]
        if new_topics:
            connection.execute(insert(_TOPICS), new_topics)
        grown = [{"tid": i, "new_centroid": c, "new_members": m} for i, c, m in changed]
        if grown:
            connection.execute(
                update(_TOPICS)
                .where(_TOPICS.c.id == bindparam("tid"))
                .values(centroid=bindparam("new_centroid"), members=bindparam("new_members")),
                grown,
            )
        rows = [{"text_hash": h, "model": model, "topic_id": t, "vector": v} for h, t, v in vectors]
        if rows:
            connection.execute(insert(_VECTORS), rows)

    def vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vector of each of ``hashes`` that has one."""
        found = {}
        with self._engine.connect() as connection:
            for start in range(0, len(hashes), _IN_BATCH):
                part = list(hashes[start : start + _IN_BATCH])
                query = select(QuestionVectorRow.text_hash, QuestionVectorRow.vector).where(
                    QuestionVectorRow.text_hash.in_(part)
                )
                found.update({h: from_bytes(v) for h, v in connection.execute(query)})
        return found

    def count(self) -> int:
        with self._engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(QuestionVectorRow)) or 0)
