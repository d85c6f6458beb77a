"""Database engine and session factory: SQLite by default, PostgreSQL through DATABASE_URL."""

from __future__ import annotations

import fcntl
import os
import threading
import weakref
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import sessionmaker

from rag_chatbot.config import Settings
from rag_chatbot.errors import ConfigError


def driver_url(raw: str) -> URL:
    """``raw`` with the driver we ship: ``postgresql://`` and ``postgres://`` (the forms psql
    and pg_dump take, and the one we document) mean psycopg 3, not SQLAlchemy's default."""
    url = make_url(raw)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def ping(engine: Engine) -> None:
    """One round trip to the database (``SELECT 1``); raises when it cannot be reached."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def create_db_engine(settings: Settings) -> Engine:
    """Build the engine for ``settings``; SQLite gets WAL and foreign keys, others a pool."""
    url = driver_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        prepare_sqlite_directory(settings)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        pool_recycle=settings.db_pool_recycle,
    )


def prepare_sqlite_directory(settings: Settings) -> None:
    """The SQLite file's folder: made for the default file (in DATA_DIR, ours); the folder of a
    file DATABASE_URL names must exist (``ConfigError``). Nothing for other databases.

    Creating a folder from a mistyped URL would only hide the mistake.
    """
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    if url.database.startswith("file:"):
        return
    path = Path(url.database)
    if not settings.database_url:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise ConfigError(
            f"DATABASE_URL: the directory {path.parent} does not exist "
            "(create it, or name a file in an existing directory)"
        )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while an ingest writes; foreign keys make chunk rows follow
    # their document on delete.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class SqliteWriteLock:
    """Turns for SQLite writers: a thread lock within the process, ``flock`` across processes.

    SQLite lets one writer in at a time, and a writer that finds the database locked does not
    queue: it sleeps in steps of up to 100 ms and tries again. Under load those naps were most
    of the tail latency (measured: cached answers with two workers, p99 501 ms). Waiting on a
    lock the kernel hands over at once avoids them. Only callers that take this lock queue;
    any other writer still meets SQLite's own busy handler.
    """

    def __init__(self, lock_file: Path | None) -> None:
        self._thread = threading.Lock()
        self._lock_file = lock_file
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._thread.acquire()
        try:
            if self._lock_file is not None:
                if self._fd is None:
                    self._fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread.release()
            raise

    def __exit__(self, *_: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread.release()


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, SqliteWriteLock] = weakref.WeakKeyDictionary()
_LOCKS_LOCK = threading.Lock()


def write_lock(engine: Engine) -> AbstractContextManager[Any]:
    """What a writing transaction on ``engine`` holds: ``SqliteWriteLock``, or nothing.

    PostgreSQL queues writers itself and gets a no-op.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    database = engine.url.database
    lock_file = None if not database or database == ":memory:" else Path(database + ".write-lock")
    with _LOCKS_LOCK:
        return _WRITE_LOCKS.setdefault(engine, SqliteWriteLock(lock_file))


def session_factory(engine: Engine) -> sessionmaker[Any]:
    return sessionmaker(engine, expire_on_commit=False)
