"""A worker's upkeep on the real Redis and the database: lost messages sent again once the
broker holds nothing (and only then), the leases of waiting uploads kept, the backlog gauges."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from prometheus_client import REGISTRY
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from rag_chatbot.db.leases import ProcessingLeases
from rag_chatbot.db.models import DocumentRow, utcnow
from rag_chatbot.db.repository import DocumentRepository
from rag_chatbot.jobs.broker import NAMESPACE, BrokerQueue
from rag_chatbot.jobs.keeper import Keeper
from rag_chatbot.jobs.runner import Runner
from rag_chatbot.jobs.store import JobStore, TaskSpec, stale_cutoff
from rag_chatbot.jobs.upkeep import JobUpkeep

pytestmark = pytest.mark.integration


def _keeper(
    sessions: sessionmaker[Session], queue: BrokerQueue, resend_after: float = 0.0
) -> Keeper:
    return Keeper(
        JobStore(sessions),
        JobUpkeep(sessions),
        queue,
        ProcessingLeases(sessions),
        Runner("keeper:1"),
        resend_after=resend_after,
    )


def _held(queue: BrokerQueue) -> int:
    """Messages of the queue the broker holds (waiting or in a worker's hands)."""
    client: redis.Redis = queue.broker.client  # type: ignore[attr-defined]
    return int(client.hlen(f"{NAMESPACE}:{queue.queue}.msgs"))


def test_lost_tasks_are_sent_again_only_when_the_broker_holds_none(
    sessions: sessionmaker[Session], redis_queue: tuple[str, str]
) -> None:
    queue = BrokerQueue(*redis_queue)
    store = JobStore(sessions)
    tasks = [TaskSpec("document", f"d{n}.md", f"/docs/d{n}.md", "/docs") for n in range(3)]
    job_id = store.create("ingest", "/docs", tasks=tasks)
    store.mark_sent(job_id, [0, 1, 2])
    live = store.claim(job_id, 1, "live:7", stale_cutoff(30))  # a worker holds this one
    done = store.claim(job_id, 2, "live:7", stale_cutoff(30))
    assert live is not None and done is not None
    store.settle(done, "live:7", "added")
    keeper = _keeper(sessions, queue)
    try:
        # The broker lost everything (nothing there): the waiting task alone goes out again.
        assert keeper.tick() == {"plans": 0, "tasks": 1, "finishes": 0}
        assert _held(queue) == 1
        # Now the broker holds a message of the queue: nothing is taken for lost.
        assert keeper.tick() == {"plans": 0, "tasks": 0, "finishes": 0}
        assert _held(queue) == 1
        assert REGISTRY.get_sample_value("rag_chatbot_jobs_queued") == 1
        assert REGISTRY.get_sample_value("rag_chatbot_jobs_running") == 1
    finally:
        queue.close()


def test_recent_messages_are_not_taken_for_lost(
    sessions: sessionmaker[Session], redis_queue: tuple[str, str]
) -> None:
    queue = BrokerQueue(*redis_queue)
    store = JobStore(sessions)
    job_id = store.create("ingest", "/docs", tasks=[TaskSpec("document", "a.md", "/docs/a.md")])
    store.mark_sent(job_id, [0])
    try:
        assert _keeper(sessions, queue, resend_after=60).tick()["tasks"] == 0
        assert _held(queue) == 0
    finally:
        queue.close()


def test_an_upload_waiting_in_the_queue_keeps_its_lease(
    sessions: sessionmaker[Session], redis_queue: tuple[str, str]
) -> None:
    queue = BrokerQueue(*redis_queue)
    store = JobStore(sessions)
    DocumentRepository(sessions).mark_processing("doc-1", "notes.md", size_bytes=10)
    DocumentRepository(sessions).mark_processing("doc-2", "other.md", size_bytes=10)
    with sessions.begin() as session:  # both accepted two minutes ago
        session.execute(update(DocumentRow).values(updated_at=utcnow() - timedelta(minutes=2)))
    job_id = store.create("upload", "notes.md", tasks=[TaskSpec("upload", "notes.md", "/up")])
    store.mark_sent(job_id, [0])
    queue.send_tasks(job_id, [0])  # it waits in the queue: not lost
    try:
        _keeper(sessions, queue, resend_after=60).tick()
        expired = ProcessingLeases(sessions).expire(stale_cutoff(60), "interrupted")
        assert expired == ["other.md"]  # no job holds that one
        row = DocumentRepository(sessions).get_by_source("notes.md")
        assert row is not None and row.status == "processing"
    finally:
        queue.close()
