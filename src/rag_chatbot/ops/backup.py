"""``create_backup(settings, file)``: the whole deployment in one archive, while it serves.

What is saved (see ``ops.archive`` for the layout):

- every row of every table (``ops.tables``), read from one consistent snapshot: on SQLite a
  copy made with SQLite's online backup API (readers and writers carry on meanwhile), on
  PostgreSQL a ``REPEATABLE READ`` read-only transaction;
- the uploaded originals in ``DATA_DIR/uploads`` (a re-index reads them again);
- a settings fingerprint (embedding model and dimension, chunker version and window,
  collection name, the documents' fingerprints): no secret is ever written.

The vectors are **not** saved: restore re-embeds the chunk rows, which hold each passage's
text, section and position. The embedding is deterministic (the same model on the same text
in the same batches gives the same vectors — the round-trip test checks identical answers),
so a snapshot of the index would add nothing but size and a tie to one vector backend: this
way a backup made on the embedded index restores onto a Qdrant server and back, and from
SQLite to PostgreSQL. The price is restore time: embedding runs at roughly 40 to 50 passages
per second on two cores (a 18,000-passage corpus takes about seven minutes).

Backup reads the database only, so it runs next to a live ``serve`` (even with the embedded
index, which a second process could not open).
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, select
from sqlalchemy.pool import NullPool

from rag_chatbot import __version__
from rag_chatbot.config import Settings
from rag_chatbot.container import embedding_identity
from rag_chatbot.db.engine import create_db_engine
from rag_chatbot.db.migrate import current_revision
from rag_chatbot.db.models import DocumentRow
from rag_chatbot.errors import InvalidInput
from rag_chatbot.ingestion.chunking import CHUNKER_VERSION
from rag_chatbot.ops.archive import FORMAT, FORMAT_VERSION, sha256_of, write_archive
from rag_chatbot.ops.tables import app_tables, describe, dump_table
from rag_chatbot.providers.vector_stores.payload import collection_name


def create_backup(settings: Settings, target: Path) -> dict[str, Any]:
    """Write a backup of the deployment ``settings`` describe to ``target``; return a summary.

    Raises ``InvalidInput`` when the database has never been set up (nothing to back up) and
    ``ProviderUnavailable`` when it cannot be reached.
    """
    engine = create_db_engine(settings)
    try:
        revision = current_revision(engine)
        if revision is None:
            where = engine.url.render_as_string(hide_password=True)
            raise InvalidInput(f"{where} has no rag-chatbot schema: nothing to back up")
        with tempfile.TemporaryDirectory(prefix="rag-backup-") as scratch:
            work = Path(scratch)
            with _snapshot(engine, work) as connection:
                tables, members = _dump_tables(connection, work)
                fingerprints = sorted(set(connection.scalars(select(DocumentRow.fingerprint))))
            uploads, upload_members = _uploads(settings.data_dir / "uploads")
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "created_at": datetime.now(UTC).isoformat(),
                "app_version": __version__,
                "database": {"backend": engine.dialect.name, "revision": revision},
                "settings": settings_fingerprint(settings, fingerprints),
                "vectors": {"method": "re-embed from chunk rows"},
                "tables": tables,
                "uploads": uploads,
            }
            size = write_archive(target, manifest, [*members, *upload_members])
    finally:
        engine.dispose()
    return {
        "file": str(target),
        "bytes": size,
        "revision": revision,
        "tables": {t["name"]: t["rows"] for t in tables},
        "uploads": len(uploads),
    }


def settings_fingerprint(settings: Settings, document_fingerprints: list[str]) -> dict[str, Any]:
    """What the index was built with; restore compares it with its own settings."""
    model, dimension = embedding_identity(settings)
    return {
        "embedding_model": model,
        "embedding_provider": settings.embedding_provider,
        "embedding_dimension": dimension,
        "chunker_version": CHUNKER_VERSION,
        "chunk_max_tokens": settings.chunk_max_tokens,
        "collection": collection_name(model),
        "document_fingerprints": [f for f in document_fingerprints if f],
    }


@contextmanager
def _snapshot(engine: Engine, work: Path) -> Iterator[Connection]:
    """A connection that sees one consistent state of the database (see module docstring)."""
    if engine.dialect.name == "sqlite":
        copy = work / "snapshot.db"
        source = sqlite3.connect(engine.url.database or ":memory:", timeout=30)
        try:
            destination = sqlite3.connect(copy)
            with destination:
                source.backup(destination)
            destination.close()
        finally:
            source.close()
        snapshot = create_engine(f"sqlite:///{copy}", poolclass=NullPool)
        try:
            with snapshot.connect() as connection:
                yield connection
        finally:
            snapshot.dispose()
        return
    with engine.connect() as connection:
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        snapshot_connection = connection.execution_options(**options)
        with snapshot_connection.begin():
            yield snapshot_connection


def _dump_tables(
    connection: Connection, work: Path
) -> tuple[list[dict[str, Any]], list[tuple[str, Path]]]:
    tables: list[dict[str, Any]] = []
    members: list[tuple[str, Path]] = []
    (work / "tables").mkdir()
    for table in app_tables(connection):
        path = work / "tables" / f"{table.name}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            rows = dump_table(connection, table, out)
        tables.append(
            {
                "name": table.name,
                "rows": rows,
                "columns": describe(table),
                "sha256": sha256_of(path),
            }
        )
        members.append((f"tables/{table.name}.jsonl", path))
    return tables, members


def _uploads(directory: Path) -> tuple[list[dict[str, Any]], list[tuple[str, Path]]]:
    if not directory.is_dir():
        return [], []
    listed: list[dict[str, Any]] = []
    members: list[tuple[str, Path]] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        if path.name.endswith(".partial"):
            continue  # an upload being written; its document is not indexed yet
        relative = path.relative_to(directory).as_posix()
        listed.append({"path": relative, "bytes": path.stat().st_size, "sha256": sha256_of(path)})
        members.append((f"uploads/{relative}", path))
    return listed, members
