"""JobStore: the ``jobs`` and ``job_tasks`` rows, the one record of what a job has done.

The broker carries messages; the database says what they mean. Every change is a
compare-and-set or an increment in one statement, so any number of workers (and API replicas)
can claim, settle and count at once without a lock:

- ``claim`` takes a task that is queued, or running under a runner gone silent;
- ``settle`` ends it only for the runner holding it, and adds its outcome to the job's
  counters in the same transaction, so a task delivered twice is counted once;
- the job finishes when ``tasks_settled`` reaches ``tasks_total`` (``jobs.tasks``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from rag_chatbot.db.models import JobRow, JobTaskRow, utcnow
from rag_chatbot.jobs.records import ACTIVE, JobRecords

ENDED = ("done", "failed", "cancelled")
SETTLED = ("done", "failed", "skipped", "cancelled")
OUTCOMES = ("added", "updated", "unchanged", "removed", "skipped", "failed")
_REASON_MAX_CHARS = 2000
_INSERT_BATCH = 1000


@dataclass(frozen=True)
class TaskSpec:
    """A task to create: one document (or a job's crawl) to index."""

    kind: str  # document | upload | reindex | crawl
    source: str
    path: str = ""
    origin: str = ""


@dataclass(frozen=True)
class Task:
    """A claimed task, as its runner sees it."""

    job_id: str
    seq: int
    kind: str
    source: str
    path: str
    origin: str
    attempts: int


class JobStore(JobRecords):
    """Writes jobs and their tasks (see the module); reads them as ``JobRecords`` does."""

    def create(
        self,
        kind: str,
        target: str,
        options: Mapping[str, object] | None = None,
        tasks: Sequence[TaskSpec] = (),
        runner: str | None = None,
    ) -> str:
        """A new queued job (with ``tasks`` when they are known now); its id."""
        job_id = str(uuid.uuid4())
        now = utcnow()
        with self._sessions.begin() as session:
            session.add(
                JobRow(
                    id=job_id,
                    kind=kind,
                    target=target,
                    state="queued",
                    options=dict(options or {}),
                    report={},
                    **{name: 0 for name in _COUNTERS},
                    runner=runner,
                    heartbeat_at=now if runner else None,
                    created_at=now,
                    updated_at=now,
                )
            )
            session.flush()
            if tasks:
                self._insert(session, job_id, tasks, len(tasks))
        return job_id

    def add_tasks(
        self, job_id: str, tasks: Sequence[TaskSpec], report: Mapping[str, object]
    ) -> bool:
        """Record a job's plan: its tasks and what the plan left out; False if planned before.

        A job whose tasks are all known at once (nothing to do) is still started: ``settle``
        never runs for it, so the caller finishes it.
        """
        with self._sessions.begin() as session:
            claimed = session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.state.in_(ACTIVE), JobRow.tasks_total == 0)
                .where(~select(JobTaskRow.seq).where(JobTaskRow.job_id == job_id).exists())
                .values(report=dict(report), updated_at=utcnow())
            )
            if not _count(claimed):
                return False
            self._insert(session, job_id, tasks, sum(t.kind != "crawl" for t in tasks))
        return True

    def _insert(
        self, session: Session, job_id: str, tasks: Sequence[TaskSpec], documents: int
    ) -> None:
        rows = [
            {
                "job_id": job_id,
                "seq": seq,
                "kind": t.kind,
                "source": t.source,
                "path": t.path,
                "origin": t.origin,
                "state": "queued",
                "outcome": "",
                "passages": 0,
                "attempts": 0,
            }
            for seq, t in enumerate(tasks)
        ]
        for start in range(0, len(rows), _INSERT_BATCH):
            session.execute(insert(JobTaskRow), rows[start : start + _INSERT_BATCH])
        session.execute(
            update(JobRow)
            .where(JobRow.id == job_id)
            .values(tasks_total=len(tasks), documents_total=documents, updated_at=utcnow())
        )

    def mark_sent(self, job_id: str, seqs: Iterable[int]) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(JobTaskRow)
                .where(JobTaskRow.job_id == job_id, JobTaskRow.seq.in_(list(seqs)))
                .values(sent_at=utcnow())
            )

    def claim(self, job_id: str, seq: int, runner: str, stale_before: datetime) -> Task | None:
        """Take the task for ``runner``; None when it is settled, cancelled or held by a live
        runner (whose heartbeat is newer than ``stale_before``)."""
        now = utcnow()
        free = or_(
            JobTaskRow.state == "queued",
            and_(
                JobTaskRow.state == "running",
                or_(JobTaskRow.heartbeat_at.is_(None), JobTaskRow.heartbeat_at < stale_before),
            ),
        )
        live = select(JobRow.id).where(JobRow.id == job_id, JobRow.state.in_(ACTIVE)).exists()
        with self._sessions.begin() as session:
            taken = session.execute(
                update(JobTaskRow)
                .where(JobTaskRow.job_id == job_id, JobTaskRow.seq == seq, free, live)
                .values(
                    state="running",
                    runner=runner,
                    heartbeat_at=now,
                    attempts=JobTaskRow.attempts + 1,
                )
            )
            if not _count(taken):
                return None
            session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.state == "queued")
                .values(state="running", started_at=now, updated_at=now)
            )
            row = session.get(JobTaskRow, (job_id, seq))
            assert row is not None
            return Task(job_id, seq, row.kind, row.source, row.path, row.origin, row.attempts)

    def renew(self, runner: str, held: Iterable[tuple[str, int]]) -> None:
        """Fresh heartbeats for the tasks ``runner`` is running."""
        keys = list(held)
        if not keys:
            return
        with self._sessions.begin() as session:
            for job_id, seq in keys:
                session.execute(
                    update(JobTaskRow)
                    .where(JobTaskRow.job_id == job_id, JobTaskRow.seq == seq)
                    .where(JobTaskRow.runner == runner, JobTaskRow.state == "running")
                    .values(heartbeat_at=utcnow())
                )

    def release(self, task: Task, runner: str) -> bool:
        """Hand a running task back (queued again) without counting it."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(JobTaskRow)
                .where(JobTaskRow.job_id == task.job_id, JobTaskRow.seq == task.seq)
                .where(JobTaskRow.runner == runner, JobTaskRow.state == "running")
                .values(state="queued", runner=None, heartbeat_at=None)
            )
            return bool(_count(result))

    def settle(
        self,
        task: Task,
        runner: str,
        outcome: str,
        passages: int = 0,
        reason: str | None = None,
        seconds: float | None = None,
    ) -> tuple[bool, bool]:
        """End ``task`` with ``outcome`` and count it; (counted, the job's last task).

        Not counted when another runner took the task over meanwhile: that one settles it.
        """
        state = {"failed": "failed", "skipped": "skipped"}.get(outcome, "done")
        now = utcnow()
        with self._sessions.begin() as session:
            ended = session.execute(
                update(JobTaskRow)
                .where(JobTaskRow.job_id == task.job_id, JobTaskRow.seq == task.seq)
                .where(JobTaskRow.runner == runner, JobTaskRow.state == "running")
                .values(
                    state=state,
                    outcome=outcome,
                    passages=passages,
                    reason=reason[:_REASON_MAX_CHARS] if reason else None,
                    seconds=seconds,
                    heartbeat_at=now,
                )
            )
            if not _count(ended):
                return False, False
            documents = 0 if task.kind == "crawl" else 1
            counters = {
                "tasks_settled": JobRow.tasks_settled + 1,
                "documents_done": JobRow.documents_done + documents,
                "passages": JobRow.passages + passages,
                "updated_at": now,
            }
            if outcome in OUTCOMES and documents:
                column = getattr(JobRow, outcome)
                counters[outcome] = column + 1
            session.execute(update(JobRow).where(JobRow.id == task.job_id).values(**counters))
            row = session.get(JobRow, task.job_id)
            assert row is not None
            session.refresh(row)
            return True, row.tasks_settled >= row.tasks_total

    def count(self, job_id: str, **amounts: int) -> None:
        """Add to a job's counters (a crawl's pages, passages and outcomes as they come)."""
        values: dict[str, object] = {
            name: getattr(JobRow, name) + amount for name, amount in amounts.items() if amount
        }
        if values:
            values["updated_at"] = utcnow()
            with self._sessions.begin() as session:
                session.execute(update(JobRow).where(JobRow.id == job_id).values(**values))

    def note(self, job_id: str, **entries: list[dict[str, str]]) -> None:
        """Append to lists of the job's report (one writer at a time: a plan, a crawl)."""
        with self._sessions.begin() as session:
            row = session.get(JobRow, job_id)
            if row is not None:
                report = dict(row.report or {})
                for key, items in entries.items():
                    report[key] = [*_listed(report.get(key)), *items]
                row.report = report

    def finish(self, job_id: str, state: str = "done", error: str | None = None) -> bool:
        """End an active job as ``done`` or ``failed``; False if it had ended already."""
        now = utcnow()
        with self._sessions.begin() as session:
            result = session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.state.in_(ACTIVE))
                .values(
                    state=state,
                    error=error[:_REASON_MAX_CHARS] if error else None,
                    finished_at=now,
                    updated_at=now,
                    started_at=func.coalesce(JobRow.started_at, now),
                )
            )
            return bool(_count(result))

    def cancel(self, job_id: str) -> bool:
        """Cancel an active job: its waiting tasks are dropped, running ones end as they end."""
        now = utcnow()
        with self._sessions.begin() as session:
            result = session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.state.in_(ACTIVE))
                .values(state="cancelled", finished_at=now, updated_at=now)
            )
            if not _count(result):
                return False
            session.execute(
                update(JobTaskRow)
                .where(JobTaskRow.job_id == job_id, JobTaskRow.state == "queued")
                .values(state="cancelled")
            )
            return True


_COUNTERS = (
    "tasks_total",
    "tasks_settled",
    "documents_total",
    "documents_done",
    "passages",
    *OUTCOMES,
)


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _listed(value: object) -> list[dict[str, str]]:
    return list(value) if isinstance(value, list) else []


def stale_cutoff(seconds: float) -> datetime:
    return utcnow() - timedelta(seconds=seconds)
