"""What analytics keeps of a reader: the question (secrets redacted), never who asked; and
nothing once the reader deletes the conversation."""

from __future__ import annotations

import json

import pytest
from analytics_clients import Clients, ask
from sqlalchemy import select

from rag_chatbot.container import Container
from rag_chatbot.db.models import MessageRow, QuestionRow, SessionRow

pytestmark = [pytest.mark.anyio, pytest.mark.integration, pytest.mark.slow]

TOKEN = "abcDEF123456ghiJKL7890"
PASSWORD = "hunter2-s3cret"
KEY = "sk-proj-Zq8xW3vB9nM2kL5pR7tY1uI0"
LEAKY = (
    f"Why does curl -H 'Authorization: Bearer {TOKEN}' fail against "
    f"postgresql://keeper:{PASSWORD}@db.example:5432/log with api_key={KEY}?"
)
ROUTES = ("summary", "gaps", "questions", "pages")


async def _everything(clients: Clients) -> str:
    """Every report, as JSON and as CSV, in one text."""
    admin = clients.admin()
    texts = []
    for route in ROUTES:
        texts.append((await admin.get(f"/api/admin/analytics/{route}?limit=1000")).text)
        texts.append((await admin.get(f"/api/admin/analytics/{route}?format=csv")).text)
    return "\n".join(texts)


async def test_secrets_in_a_question_are_never_stored(clients: Clients, served: Container) -> None:
    reader = clients.reader()
    answer = await ask(reader, LEAKY)
    stored = (await reader.get(f"/api/sessions/{answer['session_id']}/messages")).json()
    question = stored[0]["content"]
    assert question == (
        "Why does curl -H 'Authorization: Bearer [REDACTED]' fail against "
        "postgresql://keeper:[REDACTED]@db.example:5432/log with api_key=[REDACTED]?"
    )
    title = (await reader.get(f"/api/sessions/{answer['session_id']}")).json()["title"]
    assert TOKEN not in title and "[REDACTED]" in title
    reports = await _everything(clients)
    assert "Bearer [REDACTED]" in reports
    with served.engine.connect() as connection:
        rows = [
            *connection.scalars(select(MessageRow.content)),
            *connection.scalars(select(SessionRow.title)),
            *connection.scalars(select(QuestionRow.text)),
        ]
    for secret in (TOKEN, PASSWORD, KEY):
        assert not any(secret in row for row in rows), secret
        assert secret not in reports


async def test_reports_never_name_a_reader(clients: Clients) -> None:
    account = await clients.account("ann-the-reader")
    me = (await account.get("/api/auth/me")).json()
    await ask(account, "How is the lamp wick trimmed?")
    browser = clients.reader()
    await ask(browser, "Where is the paraffin stored?")
    reports = await _everything(clients)
    assert "How is the lamp wick trimmed?" in reports
    for identity in (
        "ann-the-reader",
        me["id"],
        "user:",
        "anon:",
        browser.headers["X-Client-Token"],
    ):
        assert identity not in reports, identity


async def test_deleting_a_conversation_takes_its_questions_out_of_analytics(
    clients: Clients, served: Container
) -> None:
    admin = clients.admin()
    before = (await admin.get("/api/admin/analytics/summary")).json()["questions"]
    leaving, staying = clients.reader(), clients.reader()
    first = await ask(leaving, "Is there a discount for lighthouse museums?")
    follow = await leaving.post(
        "/api/chat",
        json={"message": "And for schools?", "session_id": first["session_id"]},
    )
    assert follow.status_code == 200
    await ask(staying, "Is there a discount for students?")
    assert (await admin.get("/api/admin/analytics/summary")).json()["questions"] == before + 3
    asked = (await admin.get("/api/admin/analytics/questions?limit=1000")).json()
    assert "lighthouse museums" in json.dumps(asked)

    assert (await leaving.delete(f"/api/sessions/{first['session_id']}")).status_code == 204
    assert (await admin.get("/api/admin/analytics/summary")).json()["questions"] == before + 1
    reports = await _everything(clients)
    assert "lighthouse museums" not in reports and "And for schools?" not in reports
    assert "Is there a discount for students?" in reports
    with served.engine.connect() as connection:
        left = connection.scalars(
            select(QuestionRow.id).where(QuestionRow.session_id == first["session_id"])
        ).all()
    assert left == []
