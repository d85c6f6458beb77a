"""``restore_backup(settings, file)``: an archive of ``create_backup`` into an empty deployment.

Steps, each checked before the next:

1. the archive is read and every member checked against the manifest's SHA-256; its schema
   revision must be one this code knows (an archive of a newer version is refused);
2. the target must be empty (``ops.target``: no rows but those the migrations insert, no
   point in the vector store, no uploaded file). Otherwise ``InvalidInput`` says what it
   holds and nothing is touched. With ``force=True`` the current data is first saved to
   ``DATA_DIR/backups/pre-restore-*.tar.gz`` (named in the summary), then deleted;
3. the database is brought to the archive's revision (so its rows fit the tables exactly),
   every table is loaded in one transaction (row counts checked; PostgreSQL sequences
   advanced), then migrated to this code's head;
4. uploads are written back to ``DATA_DIR/uploads``;
5. the vectors are rebuilt from the chunk rows (``ops.vectors``).

Stop the service first: the embedded index opens in one process only (a running ``serve``
makes step 2 fail with the index's lock error), and with a Qdrant server and PostgreSQL a
live API would write into a half-restored deployment.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine

from rag_chatbot.config import Settings
from rag_chatbot.container import build_embedder, build_vector_store
from rag_chatbot.db.engine import create_db_engine, session_factory
from rag_chatbot.db.migrate import alembic_config, migration_lock, upgrade_to_head
from rag_chatbot.db.repository import DocumentRepository
from rag_chatbot.errors import InvalidInput
from rag_chatbot.ingestion.pipeline import IngestionPipeline
from rag_chatbot.ops.archive import ArchiveReader, open_archive, safe_relative
from rag_chatbot.ops.backup import create_backup
from rag_chatbot.ops.tables import (
    advance_sequences,
    app_tables,
    count_rows,
    load_table,
    read_lines,
)
from rag_chatbot.ops.target import held_data
from rag_chatbot.ops.vectors import Progress, reembed_from_rows
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.providers.vector_stores.base import VectorStore
from rag_chatbot.retrieval.lexical import LexicalEncoder


def restore_backup(
    settings: Settings,
    source: Path,
    *,
    force: bool = False,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Restore ``source`` into the deployment ``settings`` describe; return a summary.

    ``embedder`` overrides the configured model (tests). Raises ``InvalidInput`` for a bad or
    foreign archive and for a non-empty target without ``force``.
    """
    with open_archive(source) as archive:
        archive.verify()
        manifest = archive.manifest
        revision = str(manifest["database"]["revision"])
        _check_known(revision)
        model = embedder or build_embedder(settings)
        engine = create_db_engine(settings)
        store = build_vector_store(settings, model)
        uploads = settings.data_dir / "uploads"
        try:
            safety = _make_room(settings, engine, store, uploads, force)
            _migrate_to(engine, revision)
            tables = _load_tables(engine, archive)
            upgrade_to_head(engine)
            restored_uploads = _restore_uploads(archive, uploads)
            lexical = LexicalEncoder()
            report = reembed_from_rows(engine, store, model, lexical, progress)
            warnings = _compare_settings(manifest["settings"], engine, store, model, settings)
        finally:
            store.close()
            engine.dispose()
    return {
        "file": str(source),
        "revision": revision,
        "tables": tables,
        "uploads": restored_uploads,
        "documents": report.documents,
        "chunks_embedded": report.chunks,
        "embedding_seconds": round(report.seconds, 3),
        "warnings": warnings,
        "pre_restore_backup": safety,
    }


def _check_known(revision: str) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    try:
        script.get_revision(revision)
    except CommandError as exc:
        raise InvalidInput(
            f"the backup's schema revision {revision!r} is unknown to this version of "
            "rag-chatbot (made by a newer one?): upgrade this deployment, then restore"
        ) from exc


def _make_room(
    settings: Settings, engine: Engine, store: VectorStore, uploads: Path, force: bool
) -> str | None:
    held = held_data(engine, store, uploads)
    if not held:
        return None
    if not force:
        raise InvalidInput(
            "refusing to restore into a deployment that holds data ("
            + ", ".join(held)
            + "): restore into an empty DATA_DIR and database, or pass --force to replace "
            "it (its current data is backed up first)"
        )
    safety: str | None = None
    with engine.connect() as connection:
        has_rows = any(count_rows(connection, t) for t in app_tables(connection))
    if has_rows:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = settings.data_dir / "backups" / f"pre-restore-{stamp}.tar.gz"
        safety = create_backup(settings, target)["file"]
    with engine.begin() as connection:
        for table in reversed(app_tables(connection)):
            connection.execute(table.delete())
    stored = sorted(store.ids())
    if stored:
        store.delete(stored)
    if uploads.is_dir():
        shutil.rmtree(uploads)
    return safety


def _migrate_to(engine: Engine, revision: str) -> None:
    """Bring the (empty) database to ``revision``, up or down."""
    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    with engine.connect() as connection, migration_lock(connection):
        config.attributes["connection"] = connection
        current = MigrationContext.configure(connection).get_current_revision()
        if current != revision:
            older = {r.revision for r in script.walk_revisions(base="base", head=revision)}
            if current is None or current in older:
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
        connection.commit()


def _load_tables(engine: Engine, archive: ArchiveReader) -> dict[str, int]:
    loaded: dict[str, int] = {}
    with engine.begin() as connection:
        ordered = app_tables(connection)
        # The target holds at most the rows the migrations insert (ops.target): the archive
        # has its own version of them.
        for table in reversed(ordered):
            connection.execute(table.delete())
        tables = {t.name: t for t in ordered}
        for entry in archive.manifest["tables"]:
            name = entry["name"]
            if name not in tables:
                raise InvalidInput(f"backup: table {name} does not exist at this revision")
            count = load_table(
                connection, tables[name], entry["columns"], read_lines(archive.table(name))
            )
            if count != entry["rows"]:
                raise InvalidInput(
                    f"backup: {name} holds {count} rows, its manifest says {entry['rows']}"
                )
            loaded[name] = count
        advance_sequences(connection, tables.values())
    return loaded


def _restore_uploads(archive: ArchiveReader, uploads: Path) -> int:
    entries = archive.manifest.get("uploads", [])
    for entry in entries:
        target = uploads / safe_relative(entry["path"])
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            shutil.copyfileobj(archive.upload(entry["path"]), out)
    return len(entries)


def _compare_settings(
    saved: dict[str, Any],
    engine: Engine,
    store: VectorStore,
    embedder: Embedder,
    settings: Settings,
) -> list[str]:
    """Differences between the backup's index settings and this deployment's, in words."""
    repository = DocumentRepository(session_factory(engine))
    pipeline = IngestionPipeline(
        repository, store, embedder, LexicalEncoder(), max_tokens=settings.chunk_max_tokens
    )
    warnings: list[str] = []
    if saved.get("embedding_model") != embedder.name:
        warnings.append(
            f"the backup was indexed with {saved.get('embedding_model')!r}, this deployment "
            f"embeds with {embedder.name!r}: answers will differ from the original's"
        )
    stale = set(saved.get("document_fingerprints", [])) - {pipeline.fingerprint}
    if stale:
        warnings.append(
            "some documents were chunked with other settings (CHUNK_MAX_TOKENS, chunker "
            "version or model); the next ingest of their files re-indexes them"
        )
    return warnings
