"""Database fixtures: every test here runs on SQLite (a temp file) and on a real PostgreSQL.

PostgreSQL tests get a fresh database ``rag_test_<random hex>`` on 127.0.0.1:5432, dropped at
teardown, so parallel runs never collide. They run by default (they are part of CI): if the
server is down it is started, and if it still cannot be reached the tests fail, not skip.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from testing_secrets import TEST_JWT_SECRET

from rag_chatbot.config import Settings
from rag_chatbot.db.chat import ChatRepository
from rag_chatbot.db.engine import create_db_engine, session_factory
from rag_chatbot.db.migrate import upgrade_to_head
from rag_chatbot.db.repository import DocumentRepository

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_ADMIN_URL = f"{PG_SERVER}/test"


def _reachable(engine: Engine) -> bool:
    try:
        with engine.connect():
            return True
    except OperationalError:
        return False


def _start_postgres() -> str:
    clusters = (
        sorted(p.name for p in Path("/etc/postgresql").glob("*"))
        if Path("/etc/postgresql").is_dir()
        else []
    )
    if not clusters:
        return "no cluster under /etc/postgresql"
    started = subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", clusters[-1], "main", "start"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return (started.stdout + started.stderr).strip()


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the ``test`` database, for CREATE / DROP DATABASE."""
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    if not _reachable(engine):
        note = _start_postgres()
        deadline = time.monotonic() + 30
        while not _reachable(engine) and time.monotonic() < deadline:
            time.sleep(0.5)
        if not _reachable(engine):
            pytest.fail(
                f"PostgreSQL is required by tests/db and cannot be reached at {PG_ADMIN_URL}, "
                f"even after trying to start it ({note or 'pg_ctlcluster said nothing'})",
                pytrace=False,
            )
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'rag-chatbot.db'}"
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    name = f"rag_test_{secrets.token_hex(6)}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    """The application's engine (``create_db_engine``) on a database migrated to head."""
    settings = Settings(  # type: ignore[call-arg]
        database_url=database_url,
        data_dir=tmp_path / "data",
        environment="test",
        jwt_secret_key=TEST_JWT_SECRET,
    )
    built = create_db_engine(settings)
    upgrade_to_head(built)
    yield built
    built.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def chat(sessions: sessionmaker[Session]) -> ChatRepository:
    return ChatRepository(sessions)


@pytest.fixture
def documents(sessions: sessionmaker[Session]) -> DocumentRepository:
    return DocumentRepository(sessions)
