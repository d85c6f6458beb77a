"""The queries of a worker's upkeep (``jobs.keeper``): backlog, pending uploads, lost messages.

A message is lost when the broker forgets it: a Redis restarted without persistence, memory
evicted, a send that failed half way through a plan. The database still lists what it stood
for, so once the broker holds nothing of the queue (``BrokerQueue.idle``) whatever is still
waiting there, and was sent a while ago, is sent again. Each resend is a compare-and-set on
``sent_at``/``updated_at``, so of several workers noticing at once one sends it; a message sent
twice anyway is harmless (``JobStore.claim``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from rag_chatbot.db.models import JobRow, JobTaskRow, utcnow
from rag_chatbot.jobs.records import ACTIVE

_RESEND_BATCH = 500


class JobUpkeep:
    """Reads what is waiting, and claims lost messages for sending again."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def backlog(self) -> tuple[int, int]:
        """Tasks queued and running, over every active job."""
        query = (
            select(JobTaskRow.state, func.count())
            .join(JobRow, JobRow.id == JobTaskRow.job_id)
            .where(JobRow.state.in_(ACTIVE), JobTaskRow.state.in_(ACTIVE))
            .group_by(JobTaskRow.state)
        )
        with self._sessions() as session:
            counts = {state: int(n) for state, n in session.execute(query)}
        return counts.get("queued", 0), counts.get("running", 0)

    def pending_uploads(self) -> set[str]:
        """Sources of uploads whose task waits or runs: their documents stay ``processing``."""
        query = (
            select(JobTaskRow.source)
            .join(JobRow, JobRow.id == JobTaskRow.job_id)
            .where(JobRow.state.in_(ACTIVE), JobTaskRow.kind == "upload")
            .where(JobTaskRow.state.in_(ACTIVE))
        )
        with self._sessions() as session:
            return set(session.scalars(query))

    def lost_plans(self, sent_before: datetime) -> list[str]:
        """Jobs still waiting for their plan since ``sent_before``, claimed for a resend."""
        waiting = (
            JobRow.state == "queued",
            JobRow.tasks_total == 0,
            JobRow.kind != "upload",
            JobRow.runner.is_(None),
            JobRow.updated_at < sent_before,
        )
        return self._claim_jobs(waiting)

    def lost_finishes(self, sent_before: datetime) -> list[str]:
        """Running jobs whose tasks have all settled since ``sent_before``, claimed likewise."""
        ended = (
            JobRow.state == "running",
            JobRow.tasks_total > 0,
            JobRow.tasks_settled >= JobRow.tasks_total,
            JobRow.runner.is_(None),
            JobRow.updated_at < sent_before,
        )
        return self._claim_jobs(ended)

    def _claim_jobs(self, where: tuple[Any, ...]) -> list[str]:
        with self._sessions() as session:
            candidates = list(session.scalars(select(JobRow.id).where(*where).limit(100)))
        claimed = []
        for job_id in candidates:
            with self._sessions.begin() as session:
                result = session.execute(
                    update(JobRow).where(JobRow.id == job_id, *where).values(updated_at=utcnow())
                )
                if getattr(result, "rowcount", 0):
                    claimed.append(job_id)
        return claimed

    def lost_tasks(self, sent_before: datetime, silent_before: datetime) -> list[tuple[str, int]]:
        """Tasks of active jobs waiting (or held by a silent runner) whose message went out
        before ``sent_before``, or never: claimed for a resend (``sent_at`` set to now)."""
        lost = and_(
            or_(JobTaskRow.sent_at.is_(None), JobTaskRow.sent_at < sent_before),
            or_(
                JobTaskRow.state == "queued",
                and_(
                    JobTaskRow.state == "running",
                    or_(
                        JobTaskRow.heartbeat_at.is_(None),
                        JobTaskRow.heartbeat_at < silent_before,
                    ),
                ),
            ),
        )
        active = select(JobRow.id).where(
            JobRow.id == JobTaskRow.job_id, JobRow.state.in_(ACTIVE), JobRow.runner.is_(None)
        )
        query = (
            select(JobTaskRow.job_id, JobTaskRow.seq)
            .where(lost, active.exists())
            .limit(_RESEND_BATCH)
        )
        with self._sessions() as session:
            candidates = [(job_id, seq) for job_id, seq in session.execute(query)]
        claimed = []
        with self._sessions.begin() as session:
            for job_id, seq in candidates:
                result = session.execute(
                    update(JobTaskRow)
                    .where(JobTaskRow.job_id == job_id, JobTaskRow.seq == seq, lost)
                    .values(sent_at=utcnow())
                )
                if getattr(result, "rowcount", 0):
                    claimed.append((job_id, seq))
        return claimed
