"""The upkeep commands the weekly maintenance runs: ``sessions prune``, ``index compact``,
``db vacuum``, each in a process of its own on a real database (SQLite and PostgreSQL) and a
real index.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from deployments import ROOT, cli, deployment, serving
from sqlalchemy import Engine, create_engine, insert, select

from rag_chatbot.db.migrate import upgrade_to_head
from rag_chatbot.db.models import FeedbackRow, MessageRow, SessionRow

NOW = datetime.now(UTC)


def _ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def _conversation(
    engine: Engine,
    updated: datetime,
    messages: list[datetime],
    feedback: list[datetime] = (),  # type: ignore[assignment]
) -> str:
    """A session with messages at the given times, feedback on its first messages."""
    session_id = str(uuid.uuid4())
    with engine.begin() as connection:
        connection.execute(
            insert(SessionRow).values(
                id=session_id, owner="reader", title="t", created_at=_ago(100), updated_at=updated
            )
        )
        ids = []
        for at in messages:
            ids.append(str(uuid.uuid4()))
            connection.execute(
                insert(MessageRow).values(
                    id=ids[-1],
                    session_id=session_id,
                    role="assistant",
                    content="answer",
                    citations=[],
                    created_at=at,
                )
            )
        for message_id, at in zip(ids, feedback, strict=False):
            connection.execute(
                insert(FeedbackRow).values(
                    id=str(uuid.uuid4()), message_id=message_id, rating=1, created_at=at
                )
            )
    return session_id


@pytest.fixture(params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path: Path, new_pg_database: Callable[[], str]
) -> tuple[Engine, dict[str, str]]:
    if request.param == "postgresql":
        url = new_pg_database()
        env = {"DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://")}
    else:
        url = f"sqlite:///{tmp_path / 'rag-chatbot.db'}"
        env = {"DATABASE_URL": url}
    upgrade_to_head(url)
    env["DATA_DIR"] = str(tmp_path / "data")
    return create_engine(url), env


def _left(engine: Engine) -> tuple[set[str], int, int]:
    with engine.connect() as connection:
        sessions = set(connection.scalars(select(SessionRow.id)))
        messages = len(connection.scalars(select(MessageRow.id)).all())
        feedback = len(connection.scalars(select(FeedbackRow.id)).all())
    return sessions, messages, feedback


@pytest.mark.integration
def test_prune_deletes_exactly_the_idle_conversations(
    database: tuple[Engine, dict[str, str]],
) -> None:
    engine, env = database
    idle = _conversation(engine, _ago(40), [_ago(41), _ago(40)], [_ago(40)])
    empty = _conversation(engine, _ago(31), [])
    # Idle by its session row, but a message (or a rating) came within the 30 days: kept.
    late_message = _conversation(engine, _ago(40), [_ago(45), _ago(5)])
    late_rating = _conversation(engine, _ago(40), [_ago(40)], [_ago(2)])
    recent = _conversation(engine, _ago(1), [_ago(1)], [_ago(1)])
    kept = {late_message, late_rating, recent}

    dry = cli("sessions", "prune", "--older-than", "30", "--dry-run", "--json", env=env)
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert (planned["sessions"], planned["messages"], planned["feedback"]) == (2, 2, 1)
    assert _left(engine) == (kept | {idle, empty}, 6, 3)

    kept_settings = cli("sessions", "prune", env={**env, "SESSION_RETENTION_DAYS": "0"})
    assert kept_settings.returncode == 0
    assert "every conversation is kept" in kept_settings.stdout
    assert _left(engine)[0] == kept | {idle, empty}

    pruned = cli("sessions", "prune", env={**env, "SESSION_RETENTION_DAYS": "30"})
    assert pruned.returncode == 0, pruned.stderr
    assert "deleted 2 conversation(s) idle since before" in pruned.stdout
    assert "2 message(s), 1 feedback rating(s)" in pruned.stdout
    assert _left(engine) == (kept, 4, 2)
    again = cli("sessions", "prune", "--older-than", "30", "--json", env=env)
    assert json.loads(again.stdout)["sessions"] == 0
    engine.dispose()


def test_prune_refuses_a_retention_below_one_day(tmp_path: Path) -> None:
    refused = cli("sessions", "prune", "--older-than", "0", env={"DATA_DIR": str(tmp_path)})
    assert refused.returncode == 2
    assert "--older-than" in refused.stderr


@pytest.mark.integration
def test_vacuum_runs_on_both_databases(database: tuple[Engine, dict[str, str]]) -> None:
    engine, env = database
    for _ in range(30):
        _conversation(engine, _ago(50), [_ago(50)] * 20)
    assert cli("sessions", "prune", "--older-than", "30", env=env).returncode == 0
    vacuumed = cli("db", "vacuum", "--json", env=env)
    assert vacuumed.returncode == 0, vacuumed.stderr
    result = json.loads(vacuumed.stdout)
    assert result["backend"] == engine.dialect.name
    if engine.dialect.name == "sqlite":
        # The deleted rows' pages are given back: the file shrinks.
        assert result["bytes_after"] < result["bytes_before"]
    engine.dispose()


QUERIES = ["fog horn", "green tea temperature", "compost heap turning", "lamp wick"]


def _searches(env: dict[str, str]) -> list[object]:
    ran = cli("search", "-", "--json", "--top-k", "5", env=env, stdin="\n".join(QUERIES))
    assert ran.returncode == 0, ran.stderr
    found = [json.loads(line) for line in ran.stdout.splitlines()]
    assert len(found) == len(QUERIES) and all(f["results"] for f in found)
    return found


@pytest.mark.slow
@pytest.mark.integration
def test_compact_keeps_search_results_identical(tmp_path: Path, fixture_corpus: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(fixture_corpus, corpus)
    env = deployment(tmp_path / "deployment", corpus)
    # Deleted points for the optimizer to clean up: a document removed, then re-ingested.
    (corpus / "tea.txt").unlink()
    assert cli("ingest", str(corpus), env=env).returncode == 0
    shutil.copy(fixture_corpus / "tea.txt", corpus / "tea.txt")
    assert cli("ingest", str(corpus), env=env).returncode == 0
    before = _searches(env)
    compacted = cli("index", "compact", "--json", env=env)
    assert compacted.returncode == 0, compacted.stderr
    result = json.loads(compacted.stdout)
    assert result["kind"] == "embedded" and result["points"] > 0
    assert result["bytes_after"] > 0
    assert _searches(env) == before


@pytest.mark.slow
@pytest.mark.integration
def test_compact_waits_for_a_server_that_holds_the_index(
    tmp_path: Path, fixture_corpus: Path
) -> None:
    env = deployment(tmp_path, fixture_corpus)
    with serving(tmp_path, env):
        busy = cli("index", "compact", env=env)
        assert busy.returncode == 2
        assert "already open in another process" in busy.stderr
        skipped = cli("index", "compact", "--skip-if-busy", env=env)
        assert skipped.returncode == 0, skipped.stderr
        assert skipped.stdout.startswith("skipped: a running server holds the embedded index")


def test_every_command_is_described_in_the_cli_guide() -> None:
    from typer.main import get_command

    from rag_chatbot.cli.main import app

    guide = (ROOT / "docs" / "cli.md").read_text()
    headings = "\n".join(line for line in guide.splitlines() if line.startswith("## "))
    for name, command in get_command(app).commands.items():  # type: ignore[attr-defined]
        subs = getattr(command, "commands", {})
        for words in [f"{name} {sub}" for sub in subs] or [name]:
            # A command has a heading, or a line of its group's section (users set-role).
            assert re.search(rf"\b{words}\b", headings if not subs else guide), words
