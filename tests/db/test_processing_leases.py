"""Documents left ``processing`` by a dead process are failed; live ones never are.

Each ``ProcessingWatch`` here stands for one server process (a worker or a replica) sharing the
database, on SQLite and PostgreSQL. A dead process's row is written the way the process leaves
it: ``mark_processing`` at upload, then nothing more.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from rag_chatbot.db.leases import ProcessingLeases
from rag_chatbot.db.models import DocumentRow, utcnow
from rag_chatbot.db.repository import DocumentRepository
from rag_chatbot.ingestion.chunking import document_id_for
from rag_chatbot.ingestion.watch import INTERRUPTED, STALE_AFTER_SECONDS, ProcessingWatch


def left_processing(
    documents: DocumentRepository, sessions: sessionmaker[Session], source: str, age: float
) -> None:
    """A row as an upload leaves it, last touched ``age`` seconds ago."""
    documents.mark_processing(document_id_for(source), source)
    with sessions.begin() as session:
        session.execute(
            update(DocumentRow)
            .where(DocumentRow.source == source)
            .values(updated_at=utcnow() - timedelta(seconds=age))
        )


def status(documents: DocumentRepository, source: str) -> tuple[str, str | None]:
    row = documents.get_by_source(source)
    assert row is not None
    return row.status, row.error


def test_a_restarted_server_fails_what_a_dead_one_left_and_keeps_what_a_live_one_holds(
    documents: DocumentRepository, sessions: sessionmaker[Session]
) -> None:
    hour = 3600.0
    left_processing(documents, sessions, "dead.docx", age=hour)
    left_processing(documents, sessions, "queued.md", age=hour)  # waiting behind a long ingest
    left_processing(documents, sessions, "just-uploaded.md", age=1)  # its process may be alive
    live = ProcessingWatch(ProcessingLeases(sessions))
    live.hold("queued.md")

    assert live.sweep() == ["dead.docx"]  # the live process's own tick fails the dead one too
    restarted = ProcessingWatch(ProcessingLeases(sessions))
    assert restarted.sweep() == []  # and a second server's start-up finds nothing left

    assert status(documents, "dead.docx") == ("failed", INTERRUPTED)
    assert status(documents, "queued.md") == ("processing", None)
    assert status(documents, "just-uploaded.md") == ("processing", None)
    assert INTERRUPTED.startswith("interrupted: ") and "upload it again or re-index" in INTERRUPTED


def test_a_stale_row_is_failed_once_when_every_worker_starts_at_the_same_moment(
    documents: DocumentRepository, sessions: sessionmaker[Session]
) -> None:
    sources = [f"book-{n}.epub" for n in range(5)]
    for source in sources:
        left_processing(documents, sessions, source, age=2 * STALE_AFTER_SECONDS)
    workers = [ProcessingWatch(ProcessingLeases(sessions)) for _ in range(4)]
    start = threading.Barrier(len(workers))
    failed: list[list[str]] = [[] for _ in workers]

    def start_up(number: int) -> None:
        start.wait()
        failed[number] = workers[number].sweep()

    threads = [threading.Thread(target=start_up, args=(n,)) for n in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(source for found in failed for source in found) == sources
    assert all(status(documents, source) == ("failed", INTERRUPTED) for source in sources)


def test_a_finished_document_is_never_failed(
    documents: DocumentRepository, sessions: sessionmaker[Session]
) -> None:
    left_processing(documents, sessions, "broken.pdf", age=3600)
    documents.mark_failed("broken.pdf", "not a valid PDF file")
    assert ProcessingWatch(ProcessingLeases(sessions)).sweep() == []
    assert status(documents, "broken.pdf") == ("failed", "not a valid PDF file")


def test_the_running_watch_keeps_its_documents_alive_until_its_process_stops(
    documents: DocumentRepository, sessions: sessionmaker[Session]
) -> None:
    stale_after = 1.0  # seconds; the real watch: a tick every 10 s, stale after 60 s
    left_processing(documents, sessions, "long-book.epub", age=0)
    worker = ProcessingWatch(ProcessingLeases(sessions), interval=0.05, stale_after=stale_after)
    other = ProcessingWatch(ProcessingLeases(sessions), interval=0.05, stale_after=stale_after)
    worker.hold("long-book.epub")
    worker.start()
    try:
        time.sleep(3 * stale_after)
        assert other.sweep() == []
        assert status(documents, "long-book.epub") == ("processing", None)
    finally:
        worker.stop()  # as if the process died: nobody renews the lease any more

    deadline = time.monotonic() + 10 * stale_after
    while not other.sweep():
        assert time.monotonic() < deadline, "the dead worker's document stayed processing"
        time.sleep(0.1)
    assert status(documents, "long-book.epub") == ("failed", INTERRUPTED)


def test_a_released_document_is_no_longer_renewed(
    documents: DocumentRepository, sessions: sessionmaker[Session]
) -> None:
    leases = ProcessingLeases(sessions)
    watch = ProcessingWatch(leases)
    watch.hold("twice.md")
    watch.hold("twice.md")  # uploaded again before the first ingest ran
    watch.release("twice.md")
    assert watch.held() == {"twice.md"}
    watch.release("twice.md")
    assert watch.held() == set()
    left_processing(documents, sessions, "twice.md", age=3600)
    assert leases.renew(watch.held()) == 0
