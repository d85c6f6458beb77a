"""Database engine and session factory: SQLite by default, PostgreSQL through DATABASE_URL."""

from __future__ import annotations

import threading
import weakref
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from rag_chatbot.config import Settings


def create_db_engine(settings: Settings) -> Engine:
    """Build the engine for ``settings``; SQLite gets WAL and foreign keys, others a pool."""
    url = make_url(settings.resolved_database_url)
    if url.drivername in ("postgresql", "postgres"):
        # psycopg 3 is the driver we ship; a bare postgresql:// URL would ask for psycopg2.
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while an ingest writes; foreign keys make chunk rows follow
    # their document on delete.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_LOCK = threading.Lock()


def write_lock(engine: Engine) -> AbstractContextManager[Any]:
    """What a writing transaction holds on ``engine`` within this process.

    SQLite lets one writer in at a time. A second thread that finds the lock taken does not
    wait on a queue: it sleeps in steps of up to 100 ms, and under load such naps are most of
    its latency. Threads of one process therefore take turns on a ``threading.Lock`` instead.
    They still meet other processes' writers in SQLite. PostgreSQL needs no such lock, and gets
    a no-op.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _LOCKS_LOCK:
        return _WRITE_LOCKS.setdefault(engine, threading.Lock())


def session_factory(engine: Engine) -> sessionmaker[Any]:
    return sessionmaker(engine, expire_on_commit=False)
