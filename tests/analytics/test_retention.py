"""ANALYTICS_RETENTION_DAYS: the maintenance run deletes the analytics record of old questions,
then the vectors and topics no question needs; a pruned conversation takes its questions along.
On SQLite and PostgreSQL, through the functions and the ``sessions prune`` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, create_engine, func, insert, select

from rag_chatbot.db.asked import asked_rows, question_hash
from rag_chatbot.db.migrate import upgrade_to_head
from rag_chatbot.db.models import (
    QuestionRow,
    QuestionSourceRow,
    QuestionTopicRow,
    QuestionVectorRow,
    SessionRow,
)
from rag_chatbot.db.topics import TopicStore, to_bytes
from rag_chatbot.ops.retention import prune_questions, prune_sessions

NOW = datetime.now(UTC)


def _asked(engine: Engine, days_ago: float, *texts: str, updated_days_ago: float = 0) -> str:
    """A conversation whose questions were asked ``days_ago``; its id."""
    session_id = str(uuid.uuid4())
    at = NOW - timedelta(days=days_ago)
    with engine.begin() as connection:
        connection.execute(
            insert(SessionRow).values(
                id=session_id,
                owner="reader",
                title="t",
                created_at=at,
                updated_at=NOW - timedelta(days=updated_days_ago),
            )
        )
        for text in texts:
            row, sources = asked_rows(
                str(uuid.uuid4()), session_id, "reader", text, at=at, grounded=False,
                cached=False, confidence=None, latency_ms=5.0,
                citations=[{"source": "lighthouse.md"}],
            )  # fmt: skip
            connection.execute(insert(QuestionRow).values(row))
            connection.execute(insert(QuestionSourceRow), sources)
    return session_id


def _grouped(engine: Engine, topics: dict[int, list[str]]) -> None:
    """Vectors for ``texts`` in the given topics (the work ``TopicIndex`` would have done)."""
    vector = np.ones(4, dtype=np.float32) / 2
    with TopicStore(engine).locked() as connection:
        TopicStore.save(
            connection,
            "test-model",
            [
                (question_hash(t), topic, to_bytes(vector))
                for topic, ts in topics.items()
                for t in ts
            ],
            [(topic, to_bytes(vector * len(ts)), len(ts)) for topic, ts in topics.items()],
            [],
        )


def _counts(engine: Engine) -> tuple[int, int, int, int]:
    with engine.connect() as connection:
        return tuple(  # type: ignore[return-value]
            int(connection.scalar(select(func.count()).select_from(table)) or 0)
            for table in (QuestionRow, QuestionSourceRow, QuestionVectorRow, QuestionTopicRow)
        )


def test_old_questions_go_and_so_do_vectors_and_topics_nobody_needs(database_url: str) -> None:
    upgrade_to_head(database_url)
    engine = create_engine(database_url)
    _asked(engine, 200, "What does it cost?", "Is there an API?")
    _asked(engine, 10, "What does it cost?", "How is the lens cleaned?")
    _grouped(engine, {1: ["What does it cost?"], 2: ["Is there an API?"], 3: ["Gone already?"]})
    assert _counts(engine) == (4, 4, 3, 3)

    planned = prune_questions(engine, 180, dry_run=True)
    assert (planned.questions, _counts(engine)) == (2, (4, 4, 3, 3))
    kept_all = prune_questions(engine, 0)  # 0: no age limit; only what nobody needs goes
    assert (kept_all.questions, kept_all.vectors, kept_all.topics) == (0, 1, 1)
    result = prune_questions(engine, 180)
    assert (result.questions, result.vectors, result.topics) == (2, 1, 1)
    # The recent repeat keeps its text's vector and topic.
    assert _counts(engine) == (2, 2, 1, 1)
    with engine.connect() as connection:
        texts = sorted(connection.scalars(select(QuestionRow.text)))
        assert connection.scalar(select(QuestionTopicRow.id)) == 1
    assert texts == ["How is the lens cleaned?", "What does it cost?"]
    engine.dispose()


def test_a_pruned_conversation_takes_its_questions_along(database_url: str) -> None:
    upgrade_to_head(database_url)
    engine = create_engine(database_url)
    idle = _asked(engine, 60, "Where is the logbook kept?", updated_days_ago=60)
    active = _asked(engine, 60, "When is the wick trimmed?")
    result = prune_sessions(engine, 30)
    assert (result.sessions, result.questions) == (1, 1)
    with engine.connect() as connection:
        left = set(connection.scalars(select(QuestionRow.session_id)))
    assert left == {active} and idle not in left
    engine.dispose()


def test_the_maintenance_command_applies_the_retention(database_url: str, tmp_path: Path) -> None:
    upgrade_to_head(database_url)
    engine = create_engine(database_url)
    _asked(engine, 45, "Is there a mobile app?", "Is there a dark mode?")
    _asked(engine, 2, "Is there a mobile app?")
    env = {
        **os.environ,
        "DATABASE_URL": database_url.replace("postgresql+psycopg://", "postgresql://"),
        "DATA_DIR": str(tmp_path / "data"),
        "ANALYTICS_RETENTION_DAYS": "30",
        "SESSION_RETENTION_DAYS": "0",
    }
    command = [sys.executable, "-m", "rag_chatbot", "sessions", "prune"]
    dry = subprocess.run(
        [*command, "--dry-run", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["analytics"]["questions"] == 2
    assert _counts(engine)[0] == 3
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "every conversation is kept" in done.stdout
    assert "analytics: deleted 2 question(s) asked before" in done.stdout
    assert _counts(engine)[0] == 1
    engine.dispose()
