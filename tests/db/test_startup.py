"""Start-up migration as processes run it: concurrent workers, the container, the command lines."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from testing_secrets import TEST_JWT_SECRET

from rag_chatbot.config import Settings
from rag_chatbot.container import build_container
from rag_chatbot.db.migrate import current_revision, head_revision, migration_engine, schema_diff
from rag_chatbot.db.models import Base
from rag_chatbot.providers.embedders.hashing import HashingEmbedder

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
INDEX_TABLES = ("documents", "chunks")

# Each worker sleeps until the same instant, so the upgrades really overlap.
_WORKER = """
import sys, time
from rag_chatbot.db.migrate import upgrade_to_head
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
print(upgrade_to_head(sys.argv[1]))
"""


def _run(*args: str, url: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "DATABASE_URL": url},
    )


def test_concurrent_upgrades_of_a_fresh_database_all_succeed(database_url: str) -> None:
    start_at = str(time.time() + 3)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, database_url, start_at],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(w.wait(timeout=120), *w.communicate()) for w in workers]
    for code, out, err in results:
        assert code == 0, err
        assert out.strip() == head_revision()
    engine = migration_engine(database_url)
    with engine.connect() as connection:
        assert schema_diff(connection) == []
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert [v for (v,) in versions] == [head_revision()]


def test_the_container_migrates_at_start_up_and_adopts_a_create_all_database(
    tmp_path: Path,
) -> None:
    # What the last version without migrations left in DATA_DIR: only the index tables.
    data = tmp_path / "data"
    data.mkdir()
    url = f"sqlite:///{data / 'rag-chatbot.db'}"
    engine = migration_engine(url)
    Base.metadata.create_all(engine, tables=[Base.metadata.tables[t] for t in INDEX_TABLES])
    engine.dispose()

    settings = Settings(  # type: ignore[call-arg]
        data_dir=data, environment="test", jwt_secret_key=TEST_JWT_SECRET
    )
    container = build_container(settings, embedder=HashingEmbedder())
    try:
        assert container.repository.counts() == {"documents": 0, "chunks": 0}
    finally:
        container.close()
    assert current_revision(url) == head_revision()


def test_rag_chatbot_db_upgrade_and_current(database_url: str, tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "rag_chatbot", "db"]
    before = _run(*cli, "current", url=database_url, cwd=tmp_path)
    assert before.returncode == 0, before.stderr
    assert "not migrated" in before.stdout

    upgraded = _run(*cli, "upgrade", url=database_url, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"at revision {head_revision()} (head)" in upgraded.stdout

    after = _run(*cli, "current", url=database_url, cwd=tmp_path)
    assert f"{head_revision()} (head)" in after.stdout
    assert current_revision(database_url) == head_revision()


def test_alembic_upgrade_head_from_the_project_root(database_url: str) -> None:
    upgraded = _run(sys.executable, "-m", "alembic", "upgrade", "head", url=database_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert current_revision(database_url) == head_revision()
    engine = migration_engine(database_url)
    with engine.connect() as connection:
        assert schema_diff(connection) == []
    engine.dispose()

    current = _run(sys.executable, "-m", "alembic", "current", url=database_url)
    assert current.returncode == 0, current.stderr
    assert f"{head_revision()} (head)" in current.stdout

    downgraded = _run(sys.executable, "-m", "alembic", "downgrade", "base", url=database_url)
    assert downgraded.returncode == 0, downgraded.stderr
    assert current_revision(database_url) is None


def test_an_unreachable_database_is_reported_not_traced(tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    result = _run(sys.executable, "-m", "rag_chatbot", "db", "upgrade", url=url, cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot be reached" in result.stderr
    assert "Traceback" not in result.stderr
