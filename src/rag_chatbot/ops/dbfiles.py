"""The database alone, as files: what ``scripts/backup-db.sh`` and ``restore-db.sh`` call.

PostgreSQL is dumped and loaded by its own tools (``pg_dump``, ``psql``, ``pg_restore``); this
module holds the parts those tools lack:

- ``held_rows(url)``: what a database holds beyond an empty rag-chatbot schema (the rows the
  migrations insert, such as the single ``index_state`` row, do not count), so a restore can
  refuse to overwrite data;
- ``drop_statements(url)``: SQL that drops our tables (and ``alembic_version``) where they
  exist, run in the same transaction as the dump it makes room for;
- SQLite's equivalents of ``pg_dump``/``psql``: ``dump_sqlite`` (a plain SQL text dump, or a
  copy of the database file, both read through SQLite's online backup so a live service may
  keep writing) and ``restore_sqlite`` (a dump or a database file into place in one
  transaction, or not at all).

Command line: ``python3 -m rag_chatbot.ops.dbfiles held|drop-sql URL``, ``kind FILE``,
``sqlite-dump DB OUT [--database]``, ``sqlite-restore FILE DB``. A bad input exits 2 with one
line on standard error; any other failure exits 1 (a failed restore has changed nothing).
"""

from __future__ import annotations

import argparse
import io
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from rag_chatbot.db.models import Base
from rag_chatbot.errors import InvalidInput
from rag_chatbot.ops.tables import app_tables, count_rows, dump_table
from rag_chatbot.ops.target import seeded_rows

SQLITE_DUMP_HEADER = "-- rag-chatbot SQLite dump"
SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


def engine_for(url: str) -> Engine:
    """A pool-less engine; a libpq ``postgresql://`` URL is read with the psycopg driver we ship."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, poolclass=NullPool)


def held_rows(url: str) -> list[str]:
    """``["3 row(s) in documents", ...]``: our tables' rows beyond what the migrations insert."""
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            revision = MigrationContext.configure(connection).get_current_revision()
            seeds = seeded_rows(revision) if revision else {}
            held = []
            for table in app_tables(connection):
                rows = count_rows(connection, table)
                if not rows:
                    continue
                seed = seeds.get(table.name, "")
                if seed and rows == seed.count("\n"):
                    out = io.StringIO()
                    dump_table(connection, table, out)
                    if out.getvalue() == seed:
                        continue
                held.append(f"{rows} row(s) in {table.name}")
            return held
    finally:
        engine.dispose()


def drop_statements(url: str) -> str:
    """``DROP TABLE`` for each of our tables (and ``alembic_version``) the database has."""
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            present = set(connection.dialect.get_table_names(connection))
            quote = connection.dialect.identifier_preparer.quote
    finally:
        engine.dispose()
    ours = sorted(present & ({*Base.metadata.tables, "alembic_version"}))
    return "".join(f"DROP TABLE IF EXISTS {quote(name)} CASCADE;\n" for name in ours)


def dump_sqlite(database: Path, out: Path, *, as_database: bool = False) -> None:
    """Write the SQLite file ``database`` to ``out``: SQL text, or (``as_database``) a copy.

    Both go through the online backup API first, so the result is one consistent state even
    while the service writes; ``out`` is overwritten.
    """
    if not database.is_file():
        raise InvalidInput(f"no SQLite database at {database}")
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        if as_database:
            _copy(source, out)
            return
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=".sqlite-dump-") as scratch:
            snapshot = Path(scratch) / "snapshot.db"
            _copy(source, snapshot)
            copy = sqlite3.connect(snapshot)
            try:
                with out.open("w", encoding="utf-8") as handle:
                    handle.write(f"{SQLITE_DUMP_HEADER} of {database.name}\n")
                    for statement in copy.iterdump():
                        handle.write(statement + "\n")
            finally:
                copy.close()
    finally:
        source.close()


def restore_sqlite(dump: Path, database: Path) -> None:
    """Put the SQL dump or database file ``dump`` in place of ``database``, atomically.

    The dump is loaded into a new file beside ``database`` first (any error there leaves the
    target as it was); an existing target then receives it through the backup API, which
    replaces every page in one transaction and keeps its WAL consistent; a missing target is
    the new file renamed. Raises ``InvalidInput`` for a file that is neither.
    """
    kind = sqlite_kind(dump)
    database.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=database.parent, prefix=f".{database.name}.restore-")
    staged = Path(name)
    try:
        os.close(handle)
        _stage(dump, kind, staged)
        if not database.exists():
            staged.replace(database)
            return
        new = sqlite3.connect(staged)
        target = sqlite3.connect(database, timeout=30)
        try:
            new.backup(target)
        finally:
            target.close()
            new.close()
    finally:
        staged.unlink(missing_ok=True)


def file_kind(path: Path) -> str:
    """What a dump is: ``pg-custom``, ``sqlite-database``, ``sqlite-sql`` or ``sql``.

    ``sql`` is any other SQL text (``pg_dump``'s plain format among them). Raises
    ``InvalidInput`` for a compressed or binary file.
    """
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith(PGDUMP_MAGIC):
        return "pg-custom"
    if head.startswith(SQLITE_MAGIC):
        return "sqlite-database"
    if head.startswith(b"\x1f\x8b"):
        raise InvalidInput(f"{path} is gzip-compressed: gunzip it first")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the 4 KiB boundary
            raise InvalidInput(f"{path} is neither a SQL dump nor a database file") from exc
        text = head[: exc.start].decode("utf-8")
    first = text.lstrip().split("\n", 1)[0].strip()
    # Ours, and the sqlite3 shell's ``.dump`` (which begins one of these two ways).
    if first.startswith(SQLITE_DUMP_HEADER) or first in (
        "PRAGMA foreign_keys=OFF;",
        "BEGIN TRANSACTION;",
    ):
        return "sqlite-sql"
    return "sql"


def sqlite_kind(path: Path) -> str:
    """``database`` (a SQLite file) or ``sql`` (a text dump); ``InvalidInput`` otherwise."""
    kind = file_kind(path)
    with path.open("rb") as handle:
        postgres = b"PostgreSQL database dump" in handle.read(4096)
    if kind == "pg-custom" or postgres:
        raise InvalidInput(f"{path} is a PostgreSQL dump; it restores into PostgreSQL only")
    return "database" if kind == "sqlite-database" else "sql"


def _stage(dump: Path, kind: str, staged: Path) -> None:
    new = sqlite3.connect(staged)
    try:
        if kind == "database":
            source = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
            try:
                if source.execute("PRAGMA integrity_check").fetchone() != ("ok",):
                    raise InvalidInput(f"{dump}: the SQLite database fails its integrity check")
                source.backup(new)
            finally:
                source.close()
        else:
            try:
                new.executescript(dump.read_text(encoding="utf-8"))
            except (sqlite3.Error, UnicodeDecodeError) as exc:
                raise InvalidInput(f"{dump}: {exc}") from exc
        names = {row[0] for row in new.execute("SELECT name FROM sqlite_master")}
        if not names & set(Base.metadata.tables):
            raise InvalidInput(f"{dump} holds no rag-chatbot table: not restoring it")
    finally:
        new.close()


def _copy(source: sqlite3.Connection, target: Path) -> None:
    destination = sqlite3.connect(target)
    try:
        with destination:
            source.backup(destination)
    finally:
        destination.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m rag_chatbot.ops.dbfiles")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("held").add_argument("url")
    commands.add_parser("drop-sql").add_argument("url")
    commands.add_parser("kind").add_argument("file", type=Path)
    dump = commands.add_parser("sqlite-dump")
    dump.add_argument("database", type=Path)
    dump.add_argument("out", type=Path)
    dump.add_argument("--database", dest="as_database", action="store_true")
    restore = commands.add_parser("sqlite-restore")
    restore.add_argument("file", type=Path)
    restore.add_argument("database", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "held":
            print("\n".join(held_rows(args.url)))
        elif args.command == "kind":
            print(file_kind(args.file))
        elif args.command == "drop-sql":
            sys.stdout.write(drop_statements(args.url))
        elif args.command == "sqlite-dump":
            dump_sqlite(args.database, args.out, as_database=args.as_database)
        else:
            restore_sqlite(args.file, args.database)
    except (InvalidInput, SQLAlchemyError, sqlite3.Error, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(reason, file=sys.stderr)
        return 2 if isinstance(exc, InvalidInput) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
