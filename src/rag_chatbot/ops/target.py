"""What a restore target already holds: ``held_data`` is empty for a deployment with no data.

"No data" means: every table holds nothing but the rows the migrations themselves insert
(such as the single ``index_state`` row), the vector store has no point and the uploads folder
no file. The migrations' own rows are found by running the same migrations on a scratch SQLite
file, so a future migration that seeds a table needs no change here.
"""

from __future__ import annotations

import io
import tempfile
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, Table

from rag_chatbot.db.migrate import alembic_config, migration_engine
from rag_chatbot.ops.tables import app_tables, count_rows, dump_table
from rag_chatbot.providers.vector_stores.base import VectorStore


def held_data(engine: Engine, store: VectorStore, uploads: Path) -> list[str]:
    """What the deployment holds, in words (``[]`` when it is empty)."""
    held: list[str] = []
    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
        seeds = seeded_rows(revision) if revision else {}
        for table in app_tables(connection):
            rows = count_rows(connection, table)
            if rows and not _only_seeds(connection, table, rows, seeds.get(table.name, "")):
                held.append(f"{rows} row(s) in {table.name}")
    points = store.count()
    if points:
        held.append(f"{points} point(s) in the vector store")
    files = [p for p in uploads.rglob("*") if p.is_file()] if uploads.is_dir() else []
    if files:
        held.append(f"{len(files)} file(s) in {uploads}")
    return held


@lru_cache(maxsize=8)
def seeded_rows(revision: str) -> dict[str, str]:
    """Table name to the rows (as ``dump_table`` writes them) migrations to ``revision`` insert."""
    with tempfile.TemporaryDirectory(prefix="rag-seeds-") as scratch:
        engine = migration_engine(f"sqlite:///{Path(scratch) / 'seeds.db'}")
        try:
            with engine.connect() as connection:
                config = alembic_config()
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                connection.commit()
                return {t.name: _dump(connection, t) for t in app_tables(connection)}
        finally:
            engine.dispose()


def _only_seeds(connection: Connection, table: Table, rows: int, seed: str) -> bool:
    if not seed or rows != seed.count("\n"):
        return False
    return _dump(connection, table) == seed


def _dump(connection: Connection, table: Table) -> str:
    out = io.StringIO()
    dump_table(connection, table, out)
    return out.getvalue()
