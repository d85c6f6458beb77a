"""The database scripts (backup-db.sh, restore-db.sh, backup.sh) run for real.

Dumps go through real pg_dump/pg_restore/psql against the PostgreSQL of this machine, and SQLite.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from table_dumps import table_dumps
from testing_secrets import TEST_JWT_SECRET

from rag_chatbot.db.chat import ChatRepository
from rag_chatbot.db.engine import session_factory
from rag_chatbot.db.migrate import upgrade_to_head

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"


def run(
    script: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPTS / script), *args],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _fill(url: str) -> None:
    upgrade_to_head(url)
    engine = create_engine(url)
    try:
        chats = ChatRepository(session_factory(engine))
        session = chats.create_session("owner-token-0123456789", "fog")
        chats.add_message(session.id, "user", "When does the fog horn sound?")
    finally:
        engine.dispose()


def _rows(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        return table_dumps(engine)
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_database_dump_and_restore(
    backend: str, tmp_path: Path, new_pg_database: Callable[[], str]
) -> None:
    if backend == "sqlite":
        source = f"sqlite:///{tmp_path / 'a' / 'rag-chatbot.db'}"
        target = f"sqlite:///{tmp_path / 'b' / 'rag-chatbot.db'}"
    else:
        source, target = new_pg_database(), new_pg_database()
    _fill(source)
    dump = tmp_path / "dumps" / "db.dump"

    made = run("backup-db.sh", str(dump), env={"DATABASE_URL": source})
    assert made.returncode == 0, made.stderr
    restored = run("restore-db.sh", str(dump), env={"DATABASE_URL": target})
    assert restored.returncode == 0, restored.stderr
    assert _rows(target) == _rows(source)
    assert _rows(target)["messages"].count("\n") == 1

    again = run("restore-db.sh", str(dump), env={"DATABASE_URL": target})
    assert again.returncode == 1 and "refusing" in again.stderr
    forced = run("restore-db.sh", "--force", str(dump), env={"DATABASE_URL": target})
    assert forced.returncode == 0, forced.stderr
    assert _rows(target) == _rows(source)
    if backend == "sqlite":
        assert (tmp_path / "b" / "rag-chatbot.db.pre-restore").is_file()
    else:
        engine = create_engine(target)
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM sessions")) == 1
        engine.dispose()


@pytest.mark.slow
def test_full_backup_keeps_the_newest_archives(tmp_path: Path) -> None:
    data = tmp_path / "data"
    upgrade_to_head(f"sqlite:///{data / 'rag-chatbot.db'}")
    env = {"DATA_DIR": str(data), "ENVIRONMENT": "test", "JWT_SECRET_KEY": TEST_JWT_SECRET}
    backups = tmp_path / "backups"
    for stamp in ("20260101T000000Z", "20260102T000000Z", "20260103T000000Z"):
        made = run(
            "backup.sh", "--keep", "2", str(backups / f"rag-chatbot-{stamp}.tar.gz"), env=env
        )
        assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in backups.iterdir()) == [
        "rag-chatbot-20260102T000000Z.tar.gz",
        "rag-chatbot-20260103T000000Z.tar.gz",
    ]
    default = run("backup.sh", env={**env, "BACKUP_DIR": str(tmp_path / "daily")})
    assert default.returncode == 0, default.stderr
    (made_by_default,) = (tmp_path / "daily").glob("rag-chatbot-*.tar.gz")
    assert made_by_default.stat().st_size > 0
    assert run("backup.sh", "--keep", "zero").returncode == 2
