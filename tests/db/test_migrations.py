"""Alembic migrations on SQLite and PostgreSQL: in sync with the models, reversible, adopting."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    text,
)
from sqlalchemy.schema import SchemaItem
from testing_secrets import TEST_JWT_SECRET

from rag_chatbot.config import Settings
from rag_chatbot.db.engine import create_db_engine
from rag_chatbot.db.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    migration_engine,
    schema_diff,
    upgrade_to_head,
)
from rag_chatbot.db.models import Base
from rag_chatbot.errors import ConfigError

TABLES = {
    "documents",
    "chunks",
    "sessions",
    "messages",
    "feedback",
    "users",
    "index_state",
    "sites",
    "pages",
    "jobs",
    "job_tasks",
    "questions",
    "question_sources",
    "question_vectors",
    "question_topics",
}


def _diff(url: str) -> list[object]:
    engine = migration_engine(url)
    try:
        with engine.connect() as connection:
            return schema_diff(connection)
    finally:
        engine.dispose()


def _table_names(url: str) -> set[str]:
    engine = migration_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _indexes(url: str, table: str) -> dict[str, Any]:
    engine = migration_engine(url)
    try:
        with engine.connect() as connection:
            return {str(ix["name"]): ix for ix in inspect(connection).get_indexes(table)}
    finally:
        engine.dispose()


def test_upgrade_head_matches_the_models(database_url: str) -> None:
    assert current_revision(database_url) is None
    assert upgrade_to_head(database_url) == head_revision()
    assert current_revision(database_url) == head_revision()
    assert _diff(database_url) == []
    assert _table_names(database_url) >= TABLES


def test_the_comparison_would_see_a_difference(database_url: str) -> None:
    # Guards the test above: an empty diff must mean "in sync", not "not compared".
    upgrade_to_head(database_url)
    engine = migration_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX idx_messages_session_created"))
    engine.dispose()
    assert [op[0] for op in _diff(database_url)] == ["add_index"]  # type: ignore[index]


def test_downgrade_to_base_then_upgrade_again(database_url: str) -> None:
    config = alembic_config(database_url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    assert not TABLES & _table_names(database_url)
    assert current_revision(database_url) is None
    command.upgrade(config, "head")
    assert current_revision(database_url) == head_revision()
    assert _diff(database_url) == []


def test_upgrade_is_idempotent(database_url: str) -> None:
    assert upgrade_to_head(database_url) == upgrade_to_head(database_url) == head_revision()


def test_partial_index_on_completed_documents(database_url: str) -> None:
    upgrade_to_head(database_url)
    indexes = _indexes(database_url, "documents")
    assert "idx_documents_created_at" in indexes
    options = indexes["idx_documents_status"]["dialect_options"]
    where = options.get("postgresql_where") or options.get("sqlite_where")
    assert where is not None, options
    # PostgreSQL gives it back as ((status)::text = 'completed'::text).
    normalized = str(where).replace("(", "").replace(")", "").replace("::text", "")
    assert normalized == "status = 'completed'"
    messages = _indexes(database_url, "messages")
    assert messages["idx_messages_session_created"]["column_names"] == ["session_id", "created_at"]
    assert messages["idx_messages_session_id"]["column_names"] == ["session_id"]


def _pre_migration_tables(metadata: MetaData, *, with_fingerprint: bool = True) -> None:
    """The tables the last version without migrations made with ``create_all``."""
    columns: list[SchemaItem] = [
        Column("id", String(36), primary_key=True),
        Column("source", String(1024), nullable=False, unique=True),
        Column("origin", String(2048), nullable=False),
        Column("title", String(1024), nullable=False),
        Column("media_type", String(128), nullable=False),
        Column("content_hash", String(64), nullable=False),
        Column("status", String(16), nullable=False),
        Column("chunk_count", Integer, nullable=False),
        Column("size_bytes", Integer, nullable=False),
        Column("error", Text, nullable=True),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
        Index("ix_documents_created_at", "created_at"),
        Index(
            "ix_documents_status_completed",
            "status",
            postgresql_where=text("status = 'completed'"),
            sqlite_where=text("status = 'completed'"),
        ),
    ]
    if with_fingerprint:
        columns.insert(6, Column("fingerprint", String(64), nullable=False))
    Table("documents", metadata, *columns)
    Table(
        "chunks",
        metadata,
        Column("id", String(36), primary_key=True),
        Column(
            "document_id",
            String(36),
            ForeignKey("documents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        Column("position", Integer, nullable=False),
        Column("section", Text, nullable=False),
        Column("anchor", String(512), nullable=False),
        Column("text", Text, nullable=False),
        Index("ix_chunks_document_id_position", "document_id", "position"),
    )


def test_a_create_all_database_is_adopted_with_its_data(database_url: str) -> None:
    metadata = MetaData()
    _pre_migration_tables(metadata)
    engine = migration_engine(database_url)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            metadata.tables["documents"].insert(),
            {
                "id": "d1",
                "source": "a.md",
                "origin": "",
                "title": "A",
                "media_type": "text/markdown",
                "content_hash": "h",
                "fingerprint": "f",
                "status": "completed",
                "chunk_count": 1,
                "size_bytes": 3,
                "created_at": datetime(2024, 1, 1),
                "updated_at": datetime(2024, 1, 1),
            },
        )
        connection.execute(
            metadata.tables["chunks"].insert(),
            {"id": "c1", "document_id": "d1", "position": 0, "section": "", "anchor": ""}
            | {"text": "x"},
        )
    engine.dispose()

    assert upgrade_to_head(database_url) == head_revision()
    assert current_revision(database_url) == head_revision()
    assert _diff(database_url) == []
    engine = migration_engine(database_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id FROM chunks")).scalars().all() == ["c1"]
    engine.dispose()
    assert upgrade_to_head(database_url) == head_revision()  # and a second start is plain


def test_a_foreign_schema_is_refused_and_left_untouched(database_url: str) -> None:
    metadata = MetaData()
    _pre_migration_tables(metadata, with_fingerprint=False)
    engine = migration_engine(database_url)
    metadata.create_all(engine)
    engine.dispose()
    with pytest.raises(ConfigError, match=r"DATABASE_URL.*fingerprint"):
        upgrade_to_head(database_url)
    assert _table_names(database_url) == {"documents", "chunks"}
    assert current_revision(database_url) is None


def test_a_revision_from_newer_code_is_a_config_error(database_url: str) -> None:
    upgrade_to_head(database_url)
    engine = migration_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(ConfigError, match="9999"):
        upgrade_to_head(database_url)


def test_models_and_migrations_name_the_same_tables() -> None:
    assert set(Base.metadata.tables) == TABLES


def test_sqlite_foreign_keys_are_back_on_after_migrating(tmp_path: Path) -> None:
    # Migrations run with foreign keys off (batch copies must not cascade); the app's
    # connections must get them back, or deleting a document would leave its chunks.
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path, environment="test", jwt_secret_key=TEST_JWT_SECRET
    )
    engine = create_db_engine(settings)
    try:
        upgrade_to_head(engine)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
    assert (tmp_path / "rag-chatbot.db.migrate.lock").exists()
