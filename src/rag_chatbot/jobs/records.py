"""JobRecords: what is read of jobs and their tasks, and the liveness of jobs run in process.

``JobStore`` (``store``) builds on it with the writes of a task's life.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from rag_chatbot.db.models import JobRow, JobTaskRow, utcnow

ACTIVE = ("queued", "running")


class JobRecords:
    """Reads ``jobs`` and ``job_tasks``; keeps the heartbeat of jobs a process runs itself."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def holder(self, job_id: str, seq: int) -> tuple[str, str | None]:
        """The task's state and the runner holding it (``"missing"`` for no such task)."""
        with self._sessions() as session:
            row = session.get(JobTaskRow, (job_id, seq))
            return ("missing", None) if row is None else (row.state, row.runner)

    def get(self, job_id: str) -> JobRow | None:
        with self._sessions() as session:
            return session.get(JobRow, job_id)

    def list_jobs(self, state: str | None = None, limit: int = 50, offset: int = 0) -> list[JobRow]:
        query = select(JobRow).order_by(JobRow.created_at.desc(), JobRow.id)
        if state is not None:
            query = query.where(JobRow.state == state)
        with self._sessions() as session:
            return list(session.scalars(query.limit(limit).offset(offset)))

    def failures(self, job_id: str, limit: int = 1000) -> list[dict[str, str]]:
        """The failed tasks' sources and reasons, in the job's order."""
        query = (
            select(JobTaskRow.source, JobTaskRow.reason)
            .where(JobTaskRow.job_id == job_id, JobTaskRow.state == "failed")
            .order_by(JobTaskRow.seq)
            .limit(limit)
        )
        with self._sessions() as session:
            return [{"source": s, "reason": r or ""} for s, r in session.execute(query)]

    def count_failed(self, job_id: str) -> int:
        query = select(func.count()).where(
            JobTaskRow.job_id == job_id, JobTaskRow.state == "failed"
        )
        with self._sessions() as session:
            return int(session.scalar(query) or 0)

    def tasks(self, job_id: str) -> list[JobTaskRow]:
        with self._sessions() as session:
            query = select(JobTaskRow).where(JobTaskRow.job_id == job_id)
            return list(session.scalars(query.order_by(JobTaskRow.seq)))

    def heartbeat_jobs(self, runner: str, job_ids: Iterable[str]) -> None:
        """Fresh heartbeats for the jobs a process runs itself (no broker)."""
        ids = list(job_ids)
        if ids:
            with self._sessions.begin() as session:
                session.execute(
                    update(JobRow)
                    .where(JobRow.id.in_(ids), JobRow.runner == runner)
                    .values(heartbeat_at=utcnow())
                )

    def expire_unattended(self, stale_before: datetime, reason: str) -> int:
        """Fail the active jobs whose own process (no broker) stopped giving signs of life."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(JobRow)
                .where(JobRow.state.in_(ACTIVE), JobRow.runner.is_not(None))
                .where(JobRow.heartbeat_at < stale_before)
                .values(state="failed", error=reason, finished_at=utcnow(), updated_at=utcnow())
            )
            return _count(result)


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
