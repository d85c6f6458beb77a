"""The history's group commit (db/exchanges.py) on SQLite and PostgreSQL.

Exchanges queued while the writer is busy share one transaction; one that fails fails alone;
the caller hears back only once its exchange is committed; an exchange looked up under an
older index version is refused. On SQLite, the writer's commits leave WAL checkpoints to a
thread of their own (db/checkpoint.py).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

from rag_chatbot.db.chat import ChatRepository
from rag_chatbot.db.checkpoint import WalCheckpointer, wal_checkpointer
from rag_chatbot.db.exchanges import Exchange, ExchangeWriter, StaleIndex, Stored
from rag_chatbot.db.models import MessageRow, SessionRow
from rag_chatbot.db.repository import DocumentRecord, DocumentRepository
from rag_chatbot.errors import SessionNotFound

# WAL checkpoints are SQLite's: the database fixture on SQLite only.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the server's loop (asyncio.wrap_future)


def _count(sessions: sessionmaker[Session], model: type[object]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def commits(engine: Engine) -> Iterator[list[int]]:
    """One entry per transaction committed on ``engine``."""
    seen: list[int] = []

    def count(_connection: object) -> None:
        seen.append(1)

    event.listen(engine, "commit", count)
    yield seen
    event.remove(engine, "commit", count)


def _held_writer(engine: Engine) -> tuple[ExchangeWriter, threading.Lock]:
    """A writer whose transactions wait for a gate the test holds (so exchanges queue up)."""
    gate = threading.Lock()
    gate.acquire()
    return ExchangeWriter(engine, gate), gate


def test_many_concurrent_writers_are_all_stored(
    chat: ChatRepository, sessions: sessionmaker[Session]
) -> None:
    shared = chat.create_session("anon:shared")

    def ask(n: int) -> tuple[str, str]:
        if n % 5 == 0:  # some follow-ups in one shared conversation
            return chat.add_exchange(shared.id, "anon:shared", f"follow-up {n}?", f"answer {n}")
        return chat.add_exchange(None, f"anon:{n}", f"question {n}?", f"answer {n}")

    with ThreadPoolExecutor(max_workers=16) as pool:
        stored = list(pool.map(ask, range(200)))
    assert len({answer_id for _, answer_id in stored}) == 200
    assert _count(sessions, SessionRow) == 1 + 160
    assert _count(sessions, MessageRow) == 400
    thread = chat.list_messages(shared.id)
    assert [m.role for m in thread] == ["user", "assistant"] * 40
    times = [m.created_at for m in thread]
    assert times == sorted(times) and len(set(times)) == 80  # strictly increasing
    for question, answer in zip(thread[::2], thread[1::2], strict=True):
        assert answer.content == "answer " + question.content.removeprefix("follow-up ")[:-1]


def test_exchanges_queued_meanwhile_share_one_transaction(
    engine: Engine, sessions: sessionmaker[Session], commits: list[int]
) -> None:
    writer, gate = _held_writer(engine)
    futures = [writer.submit(Exchange(None, "anon:q", f"q{n}?", f"a{n}")) for n in range(30)]
    time.sleep(0.1)
    assert not any(f.done() for f in futures)  # the first batch waits at the gate
    gate.release()
    results = [f.result(timeout=30) for f in futures]
    assert len({r.session_id for r in results}) == 30
    assert _count(sessions, MessageRow) == 60
    assert len(commits) <= 2  # the first exchange(s) in one transaction, all the rest in another


def test_a_failing_exchange_fails_alone_and_loses_nothing_else(
    engine: Engine, chat: ChatRepository, sessions: sessionmaker[Session]
) -> None:
    existing = chat.create_session("anon:a")
    writer, gate = _held_writer(engine)
    good = writer.submit(Exchange(None, "anon:a", "first?", "yes"))
    # Citations that cannot be stored as JSON: the database write of the batch fails.
    unstorable = writer.submit(Exchange(None, "anon:a", "bad?", "no", citations=[{"n": {1, 2}}]))
    unknown = writer.submit(Exchange("no-such-session", "anon:a", "where?", "nowhere"))
    follow_up = writer.submit(Exchange(existing.id, "anon:a", "second?", "also yes"))
    gate.release()
    with pytest.raises((StatementError, TypeError)):  # SQLAlchemy's or psycopg's JSON
        unstorable.result(timeout=30)
    with pytest.raises(SessionNotFound):
        unknown.result(timeout=30)
    first, second = good.result(timeout=30), follow_up.result(timeout=30)
    assert second.session_id == existing.id
    assert [m.content for m in chat.list_messages(first.session_id)] == ["first?", "yes"]
    assert [m.content for m in chat.list_messages(existing.id)] == ["second?", "also yes"]
    assert _count(sessions, MessageRow) == 4  # nothing of the failed ones, all of the others


def test_the_caller_hears_back_only_once_the_exchange_is_committed(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    writer = ExchangeWriter(engine, threading.Lock())
    visible_when_resolved: list[bool] = []
    checked = threading.Semaphore(0)

    def check(future: Future[Stored]) -> None:
        # Another connection sees only committed rows.
        with sessions() as other:
            found = other.get(MessageRow, future.result().message_id)
        visible_when_resolved.append(found is not None)
        checked.release()

    futures = [writer.submit(Exchange(None, None, f"q{n}?", "a")) for n in range(20)]
    for future in futures:
        future.add_done_callback(check)
    for _ in futures:
        assert checked.acquire(timeout=30)
    assert visible_when_resolved == [True] * 20


@pytest.mark.anyio
async def test_an_awaiting_request_resumes_after_the_commit(
    engine: Engine, chat: ChatRepository, sessions: sessionmaker[Session]
) -> None:
    gate = threading.Lock()
    gate.acquire()
    chat._exchanges = ExchangeWriter(engine, gate)  # the same writer, its turn held by the test
    pending = asyncio.ensure_future(chat.asave(Exchange(None, "anon:b", "lens?", "cloth")))
    await asyncio.sleep(0.2)
    assert not pending.done() and _count(sessions, MessageRow) == 0
    gate.release()
    stored = await asyncio.wait_for(pending, 30)
    assert [m.content for m in chat.list_messages(stored.session_id)] == ["lens?", "cloth"]


def test_an_answer_looked_up_under_an_older_index_is_not_stored(
    chat: ChatRepository, documents: DocumentRepository, sessions: sessionmaker[Session]
) -> None:
    before = documents.index_version()
    stored = chat.save(Exchange(None, "anon:c", "q?", "a", index_version=before))
    assert stored.index_version == before
    record = DocumentRecord("doc-1", "new.md", "", "New", "text/markdown", "h", "f", 1)
    documents.replace(record, [])  # any document change raises the version
    now = documents.index_version()
    assert now != before
    with pytest.raises(StaleIndex) as refused:
        chat.save(Exchange(None, "anon:c", "q?", "a", index_version=before))
    assert refused.value.current_version == now
    assert _count(sessions, MessageRow) == 2
    assert chat.save(Exchange(None, "anon:c", "q?", "a", index_version=now)).index_version == now


def test_the_writer_thread_ends_when_idle_and_comes_back(engine: Engine) -> None:
    writer = ExchangeWriter(engine, threading.Lock(), idle_seconds=0.05)
    writer.submit(Exchange(None, None, "q?", "a")).result(timeout=30)
    deadline = time.monotonic() + 10
    while writer._running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not writer._running
    assert writer.submit(Exchange(None, None, "again?", "a")).result(timeout=30).message_id


def _database_file(engine: Engine) -> tuple[int, int]:
    stat = Path(str(engine.url.database)).stat()
    return stat.st_size, stat.st_mtime_ns


def _fill(writer: ExchangeWriter, exchanges: int) -> None:
    """Over 1000 WAL pages (SQLite's checkpoint threshold) in a few commits."""
    answer = "A long answer. " * 600  # ~9 kB: a few pages each
    futures = [writer.submit(Exchange(None, None, f"q{n}?", answer)) for n in range(exchanges)]
    for future in futures:
        future.result(timeout=60)


@SQLITE_ONLY
def test_sqlite_commits_leave_the_wal_to_the_checkpointer(engine: Engine) -> None:
    checkpointer = wal_checkpointer(engine)
    assert checkpointer is not None
    checkpointer.checkpoint()
    before = _database_file(engine)
    # Its thread waits a minute after a poke: the commits alone must not checkpoint.
    idle = WalCheckpointer(engine, delay=60)
    _fill(ExchangeWriter(engine, threading.Lock(), checkpointer=idle), 500)
    assert _database_file(engine) == before  # everything is still in the WAL
    busy, frames, moved = checkpointer.checkpoint()
    assert (busy, moved) == (0, frames) and frames > 1000
    assert _database_file(engine)[0] > before[0]


@SQLITE_ONLY
def test_without_the_checkpointer_sqlite_checkpoints_in_the_commit(engine: Engine) -> None:
    """The control for the test above: the same writes do reach the database file."""
    before = _database_file(engine)
    _fill(ExchangeWriter(engine, threading.Lock()), 500)
    assert _database_file(engine) != before


@SQLITE_ONLY
def test_the_checkpointer_thread_moves_the_wal_soon_after_commits(engine: Engine) -> None:
    checkpointer = WalCheckpointer(engine, delay=0.05, idle_seconds=0.2)
    checkpointer.checkpoint()
    before = _database_file(engine)
    writer = ExchangeWriter(engine, threading.Lock(), checkpointer=checkpointer)
    writer.submit(Exchange(None, None, "q?", "a")).result(timeout=30)  # far below 1000 pages
    deadline = time.monotonic() + 10
    while _database_file(engine) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _database_file(engine) != before


def test_only_sqlite_files_get_a_checkpointer(engine: Engine) -> None:
    expected = engine.dialect.name == "sqlite"
    assert (wal_checkpointer(engine) is not None) is expected
