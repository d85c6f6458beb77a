"""The real PostgreSQL on 127.0.0.1:5432 that the database and operations tests use.

Tests get their own databases (created and dropped per test), so runs never collide. The
server is part of CI: if it is down it is started, and if it still cannot be reached the tests
fail, not skip.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import OperationalError

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_ADMIN_URL = f"{PG_SERVER}/test"


def admin_engine() -> Engine:
    """An AUTOCOMMIT engine on the ``test`` database, for CREATE / DROP DATABASE."""
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    if not _reachable(engine):
        note = _start_postgres()
        deadline = time.monotonic() + 30
        while not _reachable(engine) and time.monotonic() < deadline:
            time.sleep(0.5)
        if not _reachable(engine):
            pytest.fail(
                f"PostgreSQL is required and cannot be reached at {PG_ADMIN_URL}, even after "
                f"trying to start it ({note or 'pg_ctlcluster said nothing'})",
                pytrace=False,
            )
    return engine


@contextmanager
def fresh_database(admin: Engine, prefix: str) -> Iterator[str]:
    """The URL of a new, empty database ``<prefix>_<random hex>``, dropped afterwards."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


@contextmanager
def migrated_engine(database_url: str, data_dir: Path) -> Iterator[Engine]:
    """The application's engine (``create_db_engine``) on ``database_url`` migrated to head."""
    from testing_secrets import TEST_JWT_SECRET

    from rag_chatbot.config import Settings
    from rag_chatbot.db.engine import create_db_engine
    from rag_chatbot.db.migrate import upgrade_to_head

    settings = Settings(  # type: ignore[call-arg]
        database_url=database_url,
        data_dir=data_dir,
        environment="test",
        jwt_secret_key=TEST_JWT_SECRET,
    )
    built = create_db_engine(settings)
    upgrade_to_head(built)
    try:
        yield built
    finally:
        built.dispose()
