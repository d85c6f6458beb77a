"""Migration 0007 fills the analytics record from the conversations stored before it: every
answer that follows its question, the question's secrets redacted, its citations' documents."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import create_engine, insert, select

from rag_chatbot.db.asked import asker_of, question_hash
from rag_chatbot.db.migrate import alembic_config, upgrade_to_head
from rag_chatbot.db.models import (
    FeedbackRow,
    MessageRow,
    QuestionRow,
    QuestionSourceRow,
    SessionRow,
)

START = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def _message(
    session_id: str, role: str, content: str, minute: int, **extra: object
) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "session_id": session_id,
        "role": role,
        "content": content,
        "citations": [],
        "grounded": None,
        "latency_ms": None,
        "created_at": START + timedelta(minutes=minute),
    } | extra


def test_the_migration_records_the_questions_already_asked(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "0006")
    engine = create_engine(database_url)
    owned, nobodys = str(uuid.uuid4()), str(uuid.uuid4())
    cited = [{"n": 1, "source": "lighthouse.md", "url": "/read/lighthouse.md#fuel"}]
    messages = [
        _message(owned, "user", " Where is the paraffin kept?  ", 0),
        _message(
            owned,
            "assistant",
            "In the oil room [1].",
            1,
            citations=cited,
            grounded=True,
            latency_ms=12.5,
        ),
        _message(owned, "user", "My token=abc123secret fails", 2),
        _message(owned, "assistant", "I can't find that.", 3, grounded=False, latency_ms=8.0),
        _message(owned, "user", "A question nobody answered", 4),
        _message(nobodys, "assistant", "A greeting with no question before it", 0),
    ]
    with engine.begin() as connection:
        connection.execute(
            insert(SessionRow),
            [
                {
                    "id": owned,
                    "owner": "user:42",
                    "title": "t",
                    "created_at": START,
                    "updated_at": START,
                },
                {
                    "id": nobodys,
                    "owner": None,
                    "title": "t",
                    "created_at": START,
                    "updated_at": START,
                },
            ],
        )
        connection.execute(insert(MessageRow), messages)
        connection.execute(
            insert(FeedbackRow).values(
                id=str(uuid.uuid4()), message_id=messages[1]["id"], rating=1, created_at=START
            )
        )
    upgrade_to_head(database_url)
    with engine.connect() as connection:
        rows = connection.execute(select(QuestionRow).order_by(QuestionRow.asked_at)).all()
        sources = connection.execute(select(QuestionSourceRow)).all()
    assert [r.text for r in rows] == ["Where is the paraffin kept?", "My token=[REDACTED] fails"]
    assert [r.id for r in rows] == [messages[1]["id"], messages[3]["id"]]
    assert [r.grounded for r in rows] == [True, False]
    assert [r.latency_ms for r in rows] == [12.5, 8.0]
    assert rows[0].asked_at.replace(tzinfo=UTC) == START + timedelta(minutes=1)
    assert rows[0].text_hash == question_hash("where is the paraffin kept?")
    assert {r.asker for r in rows} == {asker_of("user:42", owned)}
    assert [(s.question_id, s.source) for s in sources] == [(messages[1]["id"], "lighthouse.md")]
    engine.dispose()
