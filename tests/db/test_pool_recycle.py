"""DB_POOL_RECYCLE: a pooled PostgreSQL connection older than that is replaced, not reused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from postgres import fresh_database
from sqlalchemy import Engine, text
from testing_secrets import TEST_JWT_SECRET

from rag_chatbot.config import Settings
from rag_chatbot.db.engine import create_db_engine


def _backend_pids(admin: Engine, tmp_path: Path, recycle: int) -> tuple[int, int]:
    with fresh_database(admin, "rag_recycle") as url:
        settings = Settings(  # type: ignore[call-arg]
            database_url=url,
            data_dir=tmp_path,
            db_pool_recycle=recycle,
            environment="test",
            jwt_secret_key=TEST_JWT_SECRET,
        )
        engine = create_db_engine(settings)
        try:
            with engine.connect() as connection:
                first = connection.scalar(text("SELECT pg_backend_pid()"))
            time.sleep(1.5)
            with engine.connect() as connection:
                second = connection.scalar(text("SELECT pg_backend_pid()"))
        finally:
            engine.dispose()
    assert isinstance(first, int) and isinstance(second, int)
    return first, second


@pytest.mark.integration
def test_old_connections_are_replaced(postgres_admin: Engine, tmp_path: Path) -> None:
    first, second = _backend_pids(postgres_admin, tmp_path, recycle=1)
    assert first != second
    kept, again = _backend_pids(postgres_admin, tmp_path, recycle=-1)
    assert kept == again  # the same server process: the pooled connection was reused
