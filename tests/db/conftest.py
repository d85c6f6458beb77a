"""Database fixtures: every test here runs on SQLite (a temp file) and on a real PostgreSQL.

PostgreSQL tests get a fresh database ``rag_test_<random hex>`` on 127.0.0.1:5432, dropped at
teardown, so parallel runs never collide (the server itself: tests/postgres.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres import fresh_database, migrated_engine
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from rag_chatbot.db.chat import ChatRepository
from rag_chatbot.db.engine import session_factory
from rag_chatbot.db.repository import DocumentRepository


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        (tmp_path / "db").mkdir()  # a folder DATABASE_URL names must exist; it is not made
        yield f"sqlite:///{tmp_path / 'db' / 'rag-chatbot.db'}"
        return
    with fresh_database(request.getfixturevalue("postgres_admin"), "rag_test") as url:
        yield url


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    """The application's engine (``create_db_engine``) on a database migrated to head."""
    with migrated_engine(database_url, tmp_path / "data") as built:
        yield built


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def chat(sessions: sessionmaker[Session]) -> ChatRepository:
    return ChatRepository(sessions)


@pytest.fixture
def documents(sessions: sessionmaker[Session]) -> DocumentRepository:
    return DocumentRepository(sessions)
