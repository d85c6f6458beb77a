"""Documents being indexed: a lease their process keeps fresh, and the recovery of the rest.

A document is ``processing`` from its upload until its ingestion ends, and only the process
that accepted the upload ends it. That process renews the lease (``updated_at``) of each
document it holds every few seconds, so a row that has not been renewed for a while belongs to
a process that died (kill -9, out of memory, a lost machine) and would otherwise stay
``processing`` forever. ``expire`` marks such rows ``failed``.

Safe with several workers, replicas and a CLI beside them: no process needs to know the others.
The update is a compare-and-set on ``status`` and ``updated_at``, so of several processes that
sweep at once exactly one fails a given row, and a row renewed meanwhile is left alone.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from rag_chatbot.db.models import DocumentRow, utcnow

_BATCH = 900  # sources in one IN list (see repository._IN_CLAUSE_BATCH)


class ProcessingLeases:
    """Renews and expires the ``processing`` rows of ``documents``."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def renew(self, sources: Collection[str]) -> int:
        """Set ``updated_at`` to now on those of ``sources`` still processing; return how many."""
        names = sorted(sources)
        renewed = 0
        with self._sessions.begin() as session:
            for start in range(0, len(names), _BATCH):
                result = session.execute(
                    update(DocumentRow)
                    .where(DocumentRow.source.in_(names[start : start + _BATCH]))
                    .where(DocumentRow.status == "processing")
                    .values(updated_at=utcnow())
                )
                renewed += int(getattr(result, "rowcount", 0) or 0)
        return renewed

    def expire(self, older_than: datetime, reason: str) -> list[str]:
        """Mark ``failed`` with ``reason`` each row processing and not renewed since ``older_than``.

        Returns the sources this call failed. Reads first, so a sweep that finds nothing (the
        usual case) takes no write lock.
        """
        stale = (DocumentRow.status == "processing", DocumentRow.updated_at < older_than)
        with self._sessions() as session:
            candidates = list(session.scalars(select(DocumentRow.source).where(*stale)))
        failed = []
        for source in candidates:
            with self._sessions.begin() as session:
                result = session.execute(
                    update(DocumentRow)
                    .where(DocumentRow.source == source, *stale)
                    .values(status="failed", error=reason, updated_at=utcnow())
                )
                if getattr(result, "rowcount", 0):
                    failed.append(source)
        return failed
