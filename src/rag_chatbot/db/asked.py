"""The analytics record of an answered question: built with its messages, forgotten with them.

``ExchangeWriter`` writes a ``questions`` row (and a ``question_sources`` row for each document
the answer cited) in the transaction of the question's messages, so analytics sees exactly
the questions the history holds. The question's text arrives redacted (``db.redaction``), and
who asked is kept only as ``asker``: a hash that counts distinct readers and names none.
``forget_sessions`` is what deleting a conversation (a reader's "delete", the retention) does
to these rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, delete, select
from sqlalchemy.orm import Session

from rag_chatbot.db.models import QuestionRow, QuestionSourceRow
from rag_chatbot.domain import normalize_question

_SOURCE_MAX_CHARS = 1024  # the column's size


def question_hash(text: str) -> str:
    """What groups repeats of a question (case and spacing aside) and keys its vector."""
    return hashlib.sha256(normalize_question(text).encode()).hexdigest()


def asker_of(owner: str | None, session_id: str) -> str:
    """A reader's stand-in for counting: the owner's hash (the session's, when nobody owns it)."""
    who = owner if owner is not None else f"session:{session_id}"
    return hashlib.sha256(f"asker:{who}".encode()).hexdigest()[:32]


def asked_rows(
    answer_id: str,
    session_id: str,
    owner: str | None,
    question: str,
    *,
    at: datetime,
    grounded: bool | None,
    cached: bool,
    confidence: float | None,
    latency_ms: float | None,
    citations: Sequence[Mapping[str, Any]],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``questions`` row of a stored exchange and its ``question_sources`` rows."""
    row = {
        "id": answer_id,
        "session_id": session_id,
        "asker": asker_of(owner, session_id),
        "text": question,
        "text_hash": question_hash(question),
        "grounded": bool(grounded),
        "cached": cached,
        "confidence": confidence,
        "latency_ms": latency_ms,
        "asked_at": at,
    }
    sources = sorted({str(c.get("source") or "")[:_SOURCE_MAX_CHARS] for c in citations} - {""})
    return row, [{"question_id": answer_id, "source": source} for source in sources]


def forget_sessions(executor: Connection | Session, sessions: ColumnElement[bool]) -> int:
    """Delete the analytics rows of the conversations ``sessions`` selects; how many questions.

    ``sessions`` is a condition on ``questions.session_id``. Explicit, like the deletes of
    messages: SQLite cascades only on connections that enabled foreign keys.
    """
    doomed: Select[str] = select(QuestionRow.id).where(sessions)
    executor.execute(delete(QuestionSourceRow).where(QuestionSourceRow.question_id.in_(doomed)))
    result = executor.execute(delete(QuestionRow).where(sessions))
    return int(getattr(result, "rowcount", 0) or 0)
