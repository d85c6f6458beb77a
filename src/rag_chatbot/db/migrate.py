"""Schema migrations for start-up and the command line: ``upgrade_to_head``, ``current_revision``.

Every process that opens the database calls ``upgrade_to_head`` first (``build_container`` does).
Processes starting together — two uvicorn workers, an API replica and an ingestion worker — are
serialised by ``migration_lock``, so the first one migrates and the others find the database at
head and do nothing:

- SQLite: an exclusive file lock next to the database file (``<file>.migrate.lock``);
- PostgreSQL: a session-level ``pg_advisory_lock`` held by the migrating connection.

Adoption: a database made by ``create_all`` before migrations existed has our tables but no
``alembic_version``. If the tables it has match the models, the tables and indexes it lacks are
created and it is stamped at head; otherwise nothing is changed and ``ConfigError`` lists the
differences. Migration failures are reported as ``ConfigError`` naming ``DATABASE_URL``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from filelock import FileLock, Timeout
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from rag_chatbot.db.engine import driver_url
from rag_chatbot.db.models import Base
from rag_chatbot.errors import ConfigError, ProviderUnavailable

log = logging.getLogger(__name__)

SCRIPT_LOCATION = "rag_chatbot.db:migrations"
# Any fixed 64-bit key works; every process of every version must use the same one.
_PG_LOCK_KEY = 0x7261675F63686174  # "rag_chat"
_LOCK_TIMEOUT_SECONDS = 600
# What adoption may add to a create_all database; anything else is a real difference.
_ADDITIVE = frozenset({"add_table", "add_index"})
# Index names such a database has that a migration later renamed: dropped, then made again
# under the new name with the other missing indexes.
_RENAMED_INDEXES = frozenset(
    {
        "ix_documents_created_at",
        "ix_documents_status_completed",
        "ix_messages_session_id_created_at",
    }
)


def _renamed(op: object) -> bool:
    return isinstance(op, tuple) and op[0] == "remove_index" and op[1].name in _RENAMED_INDEXES


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` for our migrations; ``url`` overrides the settings' database."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if url is not None:
        # configparser interpolation: a literal % (in a password) must be doubled.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def migration_engine(url: str) -> Engine:
    """A pool-less engine for running migrations on ``url`` (SQLite: its directory is made)."""
    parsed = driver_url(url)
    if parsed.get_backend_name() == "sqlite":
        if _sqlite_file(parsed.database) is not None:
            Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)
        return create_engine(parsed, poolclass=NullPool, connect_args={"timeout": 30})
    return create_engine(parsed, poolclass=NullPool)


def current_revision(target: Engine | str) -> str | None:
    """The revision the database is at; ``None`` when it has never been migrated."""
    with _connect(target) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(target: Engine | str) -> str:
    """Bring the database at ``target`` (an engine or a URL) to head; return that revision.

    Safe to call from several processes at once and on every start; adopts a ``create_all``
    database (see the module docstring). Raises ``ConfigError`` when the database cannot be
    migrated: an unknown revision (newer code ran on it), or a schema that is not ours.
    """
    config = alembic_config()
    with _connect(target) as connection, migration_lock(connection):
        where = connection.engine.url.render_as_string(hide_password=True)
        if MigrationContext.configure(connection).get_current_revision() is None:
            _adopt(connection, config, where)
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, "head")
        except CommandError as exc:
            raise ConfigError(f"DATABASE_URL: cannot migrate {where}: {exc}") from exc
        connection.commit()
        revision = MigrationContext.configure(connection).get_current_revision()
    log.info("database schema ready", extra={"revision": revision})
    return revision or ""


@contextmanager
def migration_lock(connection: Connection) -> Iterator[None]:
    """Hold the lock that serialises migrations of this database across processes.

    SQLite: a file lock beside the database file (nothing for an in-memory database), and
    foreign keys switched off meanwhile — batch migrations copy and drop tables, which must
    not cascade. PostgreSQL: ``pg_advisory_lock``. Other backends: no lock.
    """
    backend = connection.dialect.name
    if backend == "sqlite":
        path = _sqlite_file(connection.engine.url.database)
        with _file_lock(path), _sqlite_foreign_keys_off(connection):
            yield
    elif backend == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
        connection.commit()
        try:
            yield
        finally:
            if connection.in_transaction():
                # A failed migration leaves the transaction aborted: unlock needs a fresh one.
                connection.rollback()
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
            connection.commit()
    else:
        yield


@contextmanager
def _file_lock(database: Path | None) -> Iterator[None]:
    if database is None:  # in memory: no other process can see it
        yield
        return
    lock = FileLock(f"{database}.migrate.lock", timeout=_LOCK_TIMEOUT_SECONDS)
    try:
        lock.acquire()
    except Timeout as exc:
        raise ConfigError(f"DATABASE_URL: timed out waiting for {lock.lock_file}") from exc
    try:
        yield
    finally:
        lock.release()


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    # PRAGMA foreign_keys is ignored inside a transaction: commit around it.
    connection.commit()
    enabled = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    try:
        yield
    finally:
        if connection.in_transaction():
            connection.rollback()
        connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")
        connection.commit()


@contextmanager
def _connect(target: Engine | str) -> Iterator[Connection]:
    """A connection to ``target``; ``ProviderUnavailable`` if the database cannot be reached."""
    engine = migration_engine(target) if isinstance(target, str) else target
    try:
        try:
            connection = engine.connect()
        except OperationalError as exc:
            where = engine.url.render_as_string(hide_password=True)
            raise ProviderUnavailable(f"database {where} cannot be reached: {exc}") from exc
        with connection:
            yield connection
    finally:
        if engine is not target:
            engine.dispose()


def _sqlite_file(database: str | None) -> Path | None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve()


def _adopt(connection: Connection, config: Config, where: str) -> None:
    """Stamp a ``create_all`` database at head after adding what it lacks (see module doc)."""
    ours = set(Base.metadata.tables)
    if not ours & set(inspect(connection).get_table_names()):
        return  # a fresh database: the migrations create everything
    diff = schema_diff(connection)
    foreign = [
        op for op in diff if not (isinstance(op, tuple) and op[0] in _ADDITIVE) and not _renamed(op)
    ]
    if foreign:
        raise ConfigError(
            f"DATABASE_URL: {where} has tables but no migration history, and its schema "
            f"differs from this version's: {'; '.join(_describe(op) for op in foreign)}. "
            "Bring it in line by hand, then run `alembic stamp head`."
        )
    # Alembic's ops may carry copies; create from the models' own objects (indexes included).
    tables = Base.metadata.tables
    for op in diff:
        if _renamed(op):
            op[1].drop(connection)
    created = sorted(op[1].name for op in diff if op[0] == "add_table")
    Base.metadata.create_all(connection, tables=[tables[name] for name in created])
    for kind, index in diff:
        if kind == "add_index" and index.table.name not in created:
            next(i for i in tables[index.table.name].indexes if i.name == index.name).create(
                connection
            )
    leftover = schema_diff(connection)
    if leftover:  # pragma: no cover - create_all makes exactly the models' schema
        raise ConfigError(f"DATABASE_URL: adopting {where} left differences: {leftover!r}")
    connection.commit()
    config.attributes["connection"] = connection
    command.stamp(config, "head")
    connection.commit()
    log.warning(
        "adopted a database made without migrations",
        extra={"created_tables": created},
    )


def schema_diff(connection: Connection) -> list[Any]:
    """Alembic's autogenerate differences between the database and the models (ours only).

    Tables that are not ours (and ``alembic_version``) are ignored. Empty means in sync.
    """

    def ours(name: str | None, type_: str, _parents: Any) -> bool:
        return type_ != "table" or name in Base.metadata.tables

    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_name": ours}
    )
    return list(compare_metadata(context, Base.metadata))


def _describe(op: Any) -> str:
    """One autogenerate difference in words: ``add_column documents.fingerprint``."""
    if isinstance(op, list):  # a column's changes come grouped
        return ", ".join(_describe(item) for item in op)
    kind, *args = op
    if kind.startswith("modify_"):  # (kind, schema, table, column, ...)
        return f"{kind} {args[1]}.{args[2]}"
    if kind.endswith("_column"):  # (kind, schema, table, Column)
        return f"{kind} {args[1]}.{args[2].name}"
    name = getattr(args[0], "name", None) or type(args[0]).__name__
    return f"{kind} {name}"
