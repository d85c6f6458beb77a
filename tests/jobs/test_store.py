"""JobStore and JobUpkeep on SQLite and PostgreSQL: claims, settles counted once, concurrent
counting, cancellation, take-over of a silent runner, lost messages, the time left."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from rag_chatbot.db.models import utcnow
from rag_chatbot.jobs.service import eta_seconds
from rag_chatbot.jobs.store import JobStore, TaskSpec, stale_cutoff
from rag_chatbot.jobs.upkeep import JobUpkeep

FRESH = 30.0


def _job(store: JobStore, documents: int) -> str:
    tasks = [
        TaskSpec("document", f"doc-{n}.md", f"/docs/doc-{n}.md", "/docs") for n in range(documents)
    ]
    return store.create("ingest", "/docs", tasks=tasks)


def test_a_task_is_counted_once_whoever_settles_it(sessions: sessionmaker[Session]) -> None:
    store = JobStore(sessions)
    job_id = _job(store, 2)
    task = store.claim(job_id, 0, "a:1", stale_cutoff(FRESH))
    assert task is not None and task.attempts == 1
    assert store.get(job_id).state == "running"  # type: ignore[union-attr]
    # A fresh runner holds it: nobody else may take it.
    assert store.claim(job_id, 0, "b:2", stale_cutoff(FRESH)) is None
    assert store.settle(task, "a:1", "added", passages=7) == (True, False)
    # Delivered again: settled already, nothing to do, nothing counted twice.
    assert store.claim(job_id, 0, "b:2", stale_cutoff(FRESH)) is None
    assert store.settle(task, "a:1", "added", passages=7) == (False, False)
    second = store.claim(job_id, 1, "b:2", stale_cutoff(FRESH))
    assert second is not None
    assert store.settle(second, "b:2", "failed", reason="broken table") == (True, True)
    job = store.get(job_id)
    assert job is not None
    assert (job.tasks_settled, job.documents_done, job.passages) == (2, 2, 7)
    assert (job.added, job.failed) == (1, 1)
    assert store.failures(job_id) == [{"source": "doc-1.md", "reason": "broken table"}]


def test_a_silent_runners_task_is_taken_over_and_its_late_settle_ignored(
    sessions: sessionmaker[Session],
) -> None:
    store = JobStore(sessions)
    job_id = _job(store, 1)
    dead = store.claim(job_id, 0, "dead:1", stale_cutoff(FRESH))
    assert dead is not None
    # Seen from a minute later, the dead runner's heartbeat is stale.
    later = utcnow() + timedelta(seconds=60)
    alive = store.claim(job_id, 0, "alive:2", later - timedelta(seconds=FRESH))
    assert alive is not None and alive.attempts == 2
    assert store.settle(dead, "dead:1", "added", passages=3) == (False, False)
    assert store.settle(alive, "alive:2", "added", passages=3) == (True, True)
    job = store.get(job_id)
    assert job is not None and (job.added, job.passages) == (1, 3)


def test_many_runners_settle_at_once_and_every_count_is_kept(
    sessions: sessionmaker[Session],
) -> None:
    store = JobStore(sessions)
    job_id = _job(store, 60)
    lasts: list[int] = []
    errors: list[BaseException] = []

    def runner(name: str, seqs: range) -> None:
        try:
            for seq in seqs:
                task = store.claim(job_id, seq, name, stale_cutoff(FRESH))
                assert task is not None
                counted, last = store.settle(task, name, "updated", passages=seq)
                assert counted
                if last:
                    lasts.append(seq)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=runner, args=(f"r:{n}", range(n * 15, n * 15 + 15)))
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    job = store.get(job_id)
    assert job is not None
    assert (job.tasks_settled, job.documents_done, job.updated) == (60, 60, 60)
    assert job.passages == sum(range(60))
    assert len(lasts) == 1  # exactly one runner saw the job's last task


def test_cancel_drops_waiting_tasks_and_running_ones_still_settle(
    sessions: sessionmaker[Session],
) -> None:
    store = JobStore(sessions)
    job_id = _job(store, 3)
    running = store.claim(job_id, 0, "a:1", stale_cutoff(FRESH))
    assert running is not None
    assert store.cancel(job_id) and not store.cancel(job_id)
    assert store.claim(job_id, 1, "a:1", stale_cutoff(FRESH)) is None
    assert [t.state for t in store.tasks(job_id)] == ["running", "cancelled", "cancelled"]
    assert store.settle(running, "a:1", "added", passages=2) == (True, False)
    job = store.get(job_id)
    assert job is not None and job.state == "cancelled" and job.added == 1
    assert not store.finish(job_id)  # a cancelled job stays cancelled


def test_upkeep_finds_lost_messages_once(sessions: sessionmaker[Session]) -> None:
    store, upkeep = JobStore(sessions), JobUpkeep(sessions)
    job_id = _job(store, 3)
    store.mark_sent(job_id, [0, 1, 2])
    held = store.claim(job_id, 1, "a:1", stale_cutoff(FRESH))
    assert held is not None
    assert upkeep.backlog() == (2, 1)
    # Sent just now: not lost yet.
    assert upkeep.lost_tasks(stale_cutoff(60), stale_cutoff(FRESH)) == []
    # Seen from two minutes on: the waiting tasks and the one whose runner went silent.
    later = utcnow() + timedelta(minutes=2)
    lost = upkeep.lost_tasks(later, later - timedelta(seconds=FRESH))
    assert sorted(lost) == [(job_id, 0), (job_id, 1), (job_id, 2)]
    # Claimed for a resend (sent_at is now): a second worker finds nothing to send.
    assert upkeep.lost_tasks(stale_cutoff(60), stale_cutoff(FRESH)) == []
    plan = store.create("reindex", "")
    assert upkeep.lost_plans(utcnow() + timedelta(minutes=2)) == [plan]
    assert upkeep.lost_plans(stale_cutoff(60)) == []  # claimed: sent again once


def test_the_time_left_follows_the_rate_so_far(sessions: sessionmaker[Session]) -> None:
    store = JobStore(sessions)
    job_id = _job(store, 10)
    for seq in range(4):
        task = store.claim(job_id, seq, "a:1", stale_cutoff(FRESH))
        assert task is not None
        store.settle(task, "a:1", "added")
    job = store.get(job_id)
    assert job is not None and job.started_at is not None
    # 4 documents in 20 s: 6 left take 30 s.
    assert eta_seconds(job, now=job.started_at + timedelta(seconds=20)) == 30.0
    store.cancel(job_id)
    assert eta_seconds(store.get(job_id)) is None  # type: ignore[arg-type]
