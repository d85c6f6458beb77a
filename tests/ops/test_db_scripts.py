"""The database scripts (backup-db.sh, restore-db.sh, backup.sh) and the runbook's own commands.

Everything runs for real: pg_dump, psql and pg_restore against this machine's PostgreSQL (a
new database per test), SQLite files, the real model and index for the answers. The full
backup and the recovery test have their own module, test_disaster_recovery.py.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from table_dumps import table_dumps
from testing_secrets import TEST_JWT_SECRET

from rag_chatbot.cli.render import answer_json
from rag_chatbot.config import Settings
from rag_chatbot.container import build_container
from rag_chatbot.db.migrate import upgrade_to_head
from rag_chatbot.ops.dbfiles import engine_for
from rag_chatbot.providers.embedders.base import Embedder

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
QUESTION = "When does the fog horn sound?"

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def run(
    script: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "QDRANT_URL")}
    return subprocess.run(
        [str(SCRIPTS / script), *args],
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def libpq(url: str) -> str:
    """The plain ``postgresql://`` form the runbook and the shipped files use."""
    return "postgresql://" + url.split("://", 1)[1]


def settings_for(data_dir: Path, url: str | None) -> Settings:
    return Settings(  # type: ignore[call-arg]
        data_dir=data_dir, database_url=url, environment="test", jwt_secret_key=TEST_JWT_SECRET
    )


def fill(settings: Settings, embedder: Embedder, corpus: Path) -> dict[str, object]:
    """Ingest the corpus, hold two conversations; the answer to QUESTION afterwards."""
    container = build_container(settings, embedder=embedder)
    try:
        assert container.pipeline.ingest_paths([corpus]).added == 3
        reader = "reader-token-0123456789"
        first = container.chat.chat(QUESTION, owner=reader)
        container.chat.chat("And how loud is it?", session_id=first.session_id, owner=reader)
        container.chat.chat("How hot should green tea water be?", owner="another-0123456789")
        container.chats.set_feedback(first.message_id, 1, "clear")
        return answer_json(container.answerer.ask(QUESTION))
    finally:
        container.close()


def answer(settings: Settings, embedder: Embedder) -> dict[str, object]:
    container = build_container(settings, embedder=embedder)
    try:
        return answer_json(container.answerer.ask(QUESTION))
    finally:
        container.close()


def rows(url: str) -> dict[str, str]:
    engine = engine_for(url)
    try:
        return table_dumps(engine)
    finally:
        engine.dispose()


def seed_session(url: str, title: str) -> None:
    """A database at head holding one conversation (``title``): data a restore must not lose."""
    from rag_chatbot.db.chat import ChatRepository
    from rag_chatbot.db.engine import session_factory

    upgrade_to_head(url)
    engine = engine_for(url)
    try:
        chats = ChatRepository(session_factory(engine))
        session = chats.create_session("owner-token-0123456789", title)
        chats.add_message(session.id, "user", f"a question about {title}")
    finally:
        engine.dispose()


def test_the_runbooks_pg_dump_and_psql_restore_everything(
    tmp_path: Path,
    new_pg_database: Callable[[], str],
    onnx_embedder: Embedder,
    fixture_corpus: Path,
) -> None:
    source, empty = new_pg_database(), new_pg_database()
    data = tmp_path / "data"
    before = fill(settings_for(data, source), onnx_embedder, fixture_corpus)
    shell = {**os.environ, "DATABASE_URL": libpq(source)}

    # The runbook's lines, verbatim.
    subprocess.run(
        ["bash", "-c", "pg_dump $DATABASE_URL > backup_$(date +%Y%m%d_%H%M%S).sql"],
        cwd=tmp_path, env=shell, check=True, timeout=120,
    )  # fmt: skip
    (dump,) = tmp_path.glob("backup_*.sql")
    assert re.fullmatch(r"backup_\d{8}_\d{6}\.sql", dump.name)
    restored = subprocess.run(
        ["bash", "-c", f"psql $DATABASE_URL < {dump.name}"],
        cwd=tmp_path, env={**shell, "DATABASE_URL": libpq(empty)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert restored.returncode == 0 and "ERROR" not in restored.stderr, restored.stderr
    verify = subprocess.run(
        ["bash", "-c", 'psql $DATABASE_URL -c "SELECT COUNT(*) FROM sessions;"'],
        env={**shell, "DATABASE_URL": libpq(empty)}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert re.search(r"^\s+2$", verify.stdout, re.MULTILINE), verify.stdout

    assert rows(empty) == rows(source)
    # The index was left alone (a database rollback): the restored rows answer the same.
    assert answer(settings_for(data, empty), onnx_embedder) == before


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_backup_db_without_arguments_writes_a_dated_plain_dump_that_restores(
    backend: str,
    tmp_path: Path,
    new_pg_database: Callable[[], str],
    onnx_embedder: Embedder,
    fixture_corpus: Path,
) -> None:
    if backend == "sqlite":
        source, target = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    else:
        source, target = libpq(new_pg_database()), new_pg_database()
    data = tmp_path / "data"
    before = fill(settings_for(data, source), onnx_embedder, fixture_corpus)
    backups, metrics = tmp_path / "backups", tmp_path / "metrics"

    where = {"BACKUP_DIR": str(backups), "METRICS_TEXTFILE_DIR": str(metrics)}
    made = run("backup-db.sh", env={"DATABASE_URL": source, **where})

    assert made.returncode == 0, made.stderr
    (dump,) = backups.iterdir()
    assert re.fullmatch(r"backup_\d{8}_\d{6}\.sql", dump.name)
    assert dump.stat().st_mode & 0o777 == 0o600
    text = dump.read_text()
    assert "CREATE TABLE" in text and "OWNER TO" not in text and "GRANT" not in text
    metric = (metrics / "rag_chatbot_backup.database.prom").read_text()
    assert f'rag_chatbot_backup_last_size_bytes{{kind="database"}} {dump.stat().st_size}' in metric
    assert 'rag_chatbot_backup_last_success_timestamp_seconds{kind="database"} ' in metric

    restored = run("restore-db.sh", str(dump), env={"DATABASE_URL": target})
    assert restored.returncode == 0, restored.stderr
    assert rows(target) == rows(source)
    assert answer(settings_for(data, target), onnx_embedder) == before
    if backend == "sqlite":  # the stock sqlite3 shell reads it too
        shell = tmp_path / "shell.db"
        subprocess.run(["sqlite3", str(shell)], input=text, text=True, check=True)
        assert rows(f"sqlite:///{shell}") == rows(source)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_restore_refuses_data_and_force_keeps_a_pre_restore_copy(
    backend: str, tmp_path: Path, new_pg_database: Callable[[], str]
) -> None:
    if backend == "sqlite":
        source, target, spare = (f"sqlite:///{tmp_path / n}.db" for n in ("a", "b", "c"))
    else:
        source, target, spare = new_pg_database(), new_pg_database(), new_pg_database()
    seed_session(source, "fog")
    dump = tmp_path / "dumps" / "db.dump"
    made = run("backup-db.sh", str(dump), env={"DATABASE_URL": source})
    assert made.returncode == 0, made.stderr
    assert "(custom," in made.stdout

    into_empty = run("restore-db.sh", str(dump), env={"DATABASE_URL": target})
    assert into_empty.returncode == 0, into_empty.stderr
    assert rows(target) == rows(source)

    other = tmp_path / "other.sql"
    seed_session(spare, "tea")
    assert run("backup-db.sh", str(other), env={"DATABASE_URL": spare}).returncode == 0
    refused = run("restore-db.sh", str(other), env={"DATABASE_URL": target})
    assert refused.returncode == 1
    assert "refusing" in refused.stderr and "row(s) in sessions" in refused.stderr
    assert rows(target) == rows(source)

    forced = run("restore-db.sh", "--force", str(other), env={"DATABASE_URL": target})
    assert forced.returncode == 0, forced.stderr
    assert rows(target) == rows(spare)
    (saved,) = tmp_path.glob("pre-restore_*.sql")
    assert str(saved) in forced.stdout
    # What --force replaced comes back from the copy it made first.
    assert run("restore-db.sh", "--force", str(saved), env={"DATABASE_URL": target}).returncode == 0
    assert rows(target) == rows(source)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_restore_that_fails_midway_changes_nothing_and_says_so(
    backend: str, tmp_path: Path, new_pg_database: Callable[[], str]
) -> None:
    if backend == "sqlite":
        source, target = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    else:
        source, target = new_pg_database(), new_pg_database()
    seed_session(source, "fog")
    seed_session(target, "tea")
    held = rows(target)
    dump = tmp_path / "good.sql"
    assert run("backup-db.sh", str(dump), env={"DATABASE_URL": source}).returncode == 0
    # A statement that fails after every table has been created and filled.
    text = dump.read_text()
    cut = text.rindex("COMMIT;") if backend == "sqlite" else text.index("ALTER TABLE ONLY")
    broken = tmp_path / "broken.sql"
    broken.write_text(text[:cut] + "SELECT no_such_function();\n" + text[cut:])

    failed = run("restore-db.sh", "--force", str(broken), env={"DATABASE_URL": target})

    assert failed.returncode == 1
    assert "the database was not changed" in failed.stderr
    assert "no_such_function" in failed.stderr
    assert rows(target) == held


def test_a_failed_backup_leaves_no_file(tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    unreachable = run(
        "backup-db.sh",
        env={"DATABASE_URL": "postgresql://rag@127.0.0.1:1/rag", "BACKUP_DIR": str(backups)},
    )
    assert unreachable.returncode == 1
    assert unreachable.stderr.count("\n") == 1 and "no backup written" in unreachable.stderr
    assert list(backups.iterdir()) == []
    missing = run("backup-db.sh", str(backups / "x.sql"), env={"DATA_DIR": str(tmp_path / "no")})
    assert missing.returncode == 1 and "no SQLite database" in missing.stderr
    assert list(backups.iterdir()) == []


def test_restore_refuses_a_dump_of_the_other_database(
    tmp_path: Path, new_pg_database: Callable[[], str]
) -> None:
    sqlite_url, pg_url = f"sqlite:///{tmp_path / 'a.db'}", new_pg_database()
    seed_session(sqlite_url, "fog")
    seed_session(pg_url, "fog")
    lite, pg = tmp_path / "lite.sql", tmp_path / "pg.sql"
    assert run("backup-db.sh", str(lite), env={"DATABASE_URL": sqlite_url}).returncode == 0
    assert run("backup-db.sh", str(pg), env={"DATABASE_URL": pg_url}).returncode == 0
    empty_pg, empty_lite = new_pg_database(), f"sqlite:///{tmp_path / 'b.db'}"

    wrong = run("restore-db.sh", str(lite), env={"DATABASE_URL": empty_pg})
    assert wrong.returncode == 2 and "SQLite dump" in wrong.stderr
    wrong = run("restore-db.sh", str(pg), env={"DATABASE_URL": empty_lite})
    assert wrong.returncode == 2 and "PostgreSQL dump" in wrong.stderr
    assert not (tmp_path / "b.db").exists()
    assert run("restore-db.sh", str(tmp_path / "none.sql")).returncode == 2


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


def test_sqlite_dump_reads_a_live_database(tmp_path: Path) -> None:
    """A writer holding a transaction open does not stop the dump, nor leak into it."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    seed_session(url, "fog")
    writer = sqlite3.connect(tmp_path / "live.db")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM messages")
    try:
        made = run("backup-db.sh", str(tmp_path / "live.sql"), env={"DATABASE_URL": url})
    finally:
        writer.rollback()
        writer.close()
    assert made.returncode == 0, made.stderr
    assert "a question about fog" in (tmp_path / "live.sql").read_text()


def test_dumps_restore_as_an_unprivileged_role_beside_an_extension(
    tmp_path: Path, new_pg_database: Callable[[], str], postgres_admin: Engine
) -> None:
    """pg_stat_statements (which the compose database creates) and ownership do not get in
    the way: a role that is not a superuser restores our dumps, the runbook's way and ours."""
    source, plain_target, custom_target = (new_pg_database() for _ in range(3))
    role = f"rag_restorer_{secrets.token_hex(4)}"
    with postgres_admin.connect() as admin:
        admin.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
    try:
        for url in (source, plain_target, custom_target):
            engine = engine_for(url)
            with engine.begin() as connection:
                connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                connection.exec_driver_sql(f"GRANT CREATE ON SCHEMA public TO {role}")
            engine.dispose()
        seed_session(source, "fog")
        plain, custom = tmp_path / "db.sql", tmp_path / "db.dump"
        for dump in (plain, custom):
            assert run("backup-db.sh", str(dump), env={"DATABASE_URL": source}).returncode == 0
        as_role = {
            t: libpq(t).replace("postgres@", f"{role}@") for t in (plain_target, custom_target)
        }

        runbook = subprocess.run(
            ["bash", "-c", f"psql -v ON_ERROR_STOP=1 $DATABASE_URL < {plain}"],
            env={**os.environ, "DATABASE_URL": as_role[plain_target]},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert runbook.returncode == 0, runbook.stderr
        ours = run("restore-db.sh", str(custom), env={"DATABASE_URL": as_role[custom_target]})
        assert ours.returncode == 0, ours.stderr
        assert rows(plain_target) == rows(custom_target) == rows(source)
    finally:
        for url in (source, plain_target, custom_target):
            engine = engine_for(url)
            with engine.begin() as connection:
                connection.exec_driver_sql(f"DROP OWNED BY {role}")
            engine.dispose()
        with postgres_admin.connect() as admin:
            admin.exec_driver_sql(f"DROP ROLE {role}")
