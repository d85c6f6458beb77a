"""AnalyticsQueries: what readers asked, as counts over a period ``[start, end)``.

Every query filters ``questions.asked_at`` first (``ix_questions_asked_at``, which on
PostgreSQL also holds the columns the summary counts: an index-only scan of the period, never
a pass over ``messages``). A question *fails* when its answer was declined (``grounded``
false) or its reader rated it down; topics come from ``question_vectors`` (``db.topics``), so
a question not yet put in a topic is left out of the per-topic reads. Days are UTC days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    and_,
    case,
    distinct,
    func,
    or_,
    select,
)
from sqlalchemy.sql import Executable

from rag_chatbot.db.models import (
    DocumentRow,
    FeedbackRow,
    QuestionRow,
    QuestionSourceRow,
    QuestionVectorRow,
)

Q = QuestionRow
_FAILED = or_(Q.grounded.is_(False), FeedbackRow.rating == -1)
_TOPIC = QuestionVectorRow.topic_id


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _day(value: object) -> str:
    """A day as ``YYYY-MM-DD`` (SQLite's ``date()`` gives text, PostgreSQL's a date)."""
    return value.isoformat() if isinstance(value, date) else str(value)


@dataclass(frozen=True)
class TopicStats:
    """One topic's questions in the period."""

    topic: int
    asked: int
    grounded: int
    unanswered: int
    disliked: int
    failed: int
    askers: int
    first_failed: datetime | None
    last_failed: datetime | None
    last_asked: datetime


@dataclass(frozen=True)
class TextStats:
    """One distinct question text of a topic in the period."""

    topic: int
    text_hash: str
    text: str
    asked: int
    unanswered: int
    disliked: int
    last_failed: datetime | None
    last_succeeded: datetime | None


class AnalyticsQueries:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _rows(self, query: Executable) -> list[Any]:
        with self._engine.connect() as connection:
            return list(connection.execute(query).all())

    @staticmethod
    def _in(start: datetime, end: datetime) -> ColumnElement[bool]:
        return and_(Q.asked_at >= start, Q.asked_at < end)

    def statements(self, start: datetime, end: datetime) -> dict[str, Select[Any]]:
        """The summary's statements but the per-day counts (``per_day_query``), by name: what
        ``totals``, ``per_day`` and ``latency_percentiles`` run (and EXPLAIN reads)."""
        period = self._in(start, end)
        timed = and_(period, Q.latency_ms.is_not(None))
        up, down = _count_if(FeedbackRow.rating == 1), _count_if(FeedbackRow.rating == -1)
        rated = select(up, down).select_from(FeedbackRow).join(Q, Q.id == FeedbackRow.message_id)
        asked_day = func.date(Q.asked_at)
        return {
            "asked": select(
                func.count(),
                func.count(distinct(Q.asker)),
                _count_if(Q.grounded.is_(False)),
                _count_if(Q.cached.is_(True)),
            ).where(period),
            "rated": rated.where(period),
            "rated per day": rated.add_columns(asked_day).where(period).group_by(asked_day),
            "timed": select(func.count()).where(timed),
            "latency at rank": select(Q.latency_ms).where(timed).order_by(Q.latency_ms).limit(1),
        }

    def totals(self, start: datetime, end: datetime) -> dict[str, int]:
        """Questions, distinct askers, unanswered, cached, and feedback up and down."""
        made = self.statements(start, end)
        questions, askers, unanswered, cached = self._rows(made["asked"])[0]
        up, down = self._rows(made["rated"])[0]
        return {
            "questions": int(questions),
            "askers": int(askers),
            "unanswered": int(unanswered),
            "cached": int(cached),
            "up": int(up),
            "down": int(down),
        }

    def per_day_query(self, start: datetime, end: datetime) -> Select[Any]:
        """Questions and unanswered ones per day (the statement, for EXPLAIN too)."""
        day = func.date(Q.asked_at)
        return (
            select(day, func.count(), _count_if(Q.grounded.is_(False)))
            .where(self._in(start, end))
            .group_by(day)
            .order_by(day)
        )

    def per_day(self, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
        """``{day: {questions, unanswered, up, down}}`` for the days that had questions."""
        days: dict[str, dict[str, int]] = {}
        for day, questions, unanswered in self._rows(self.per_day_query(start, end)):
            days[_day(day)] = {"questions": questions, "unanswered": unanswered, "up": 0, "down": 0}
        for up, down, day in self._rows(self.statements(start, end)["rated per day"]):
            entry = days.setdefault(
                _day(day), {"questions": 0, "unanswered": 0, "up": 0, "down": 0}
            )
            entry["up"], entry["down"] = int(up), int(down)
        return days

    def latency_percentiles(
        self, start: datetime, end: datetime, fractions: Sequence[float]
    ) -> list[float | None]:
        """The answers' latency (ms) at each fraction, nearest rank; None without latencies."""
        made = self.statements(start, end)
        with self._engine.connect() as connection:
            n = int(connection.scalar(made["timed"]) or 0)
            found: list[float | None] = []
            for fraction in fractions:
                rank = min(n - 1, max(0, round(fraction * n + 0.5) - 1))
                at_rank = made["latency at rank"].offset(rank)
                found.append(connection.scalar(at_rank) if n else None)
        return found

    def _joined(self, start: datetime, end: datetime, *columns: Any) -> Select[Any]:
        return (
            select(*columns)
            .select_from(Q)
            .join(QuestionVectorRow, QuestionVectorRow.text_hash == Q.text_hash)
            .outerjoin(FeedbackRow, FeedbackRow.message_id == Q.id)
            .where(self._in(start, end))
        )

    def topic_stats(self, start: datetime, end: datetime) -> list[TopicStats]:
        """Every topic asked about in the period."""
        failed_at = case((_FAILED, Q.asked_at), else_=None)
        query = self._joined(
            start,
            end,
            _TOPIC,
            func.count(),
            _count_if(Q.grounded.is_(True)),
            _count_if(Q.grounded.is_(False)),
            _count_if(FeedbackRow.rating == -1),
            _count_if(_FAILED),
            func.count(distinct(Q.asker)),
            func.min(failed_at),
            func.max(failed_at),
            func.max(Q.asked_at),
        ).group_by(_TOPIC)
        return [TopicStats(*row) for row in self._rows(query)]

    def topic_texts(self, start: datetime, end: datetime, topics: Sequence[int]) -> list[TextStats]:
        """The distinct question texts of ``topics`` in the period, most asked first."""
        if not topics:
            return []
        failed_at = case((_FAILED, Q.asked_at), else_=None)
        succeeded_at = case((_FAILED, None), else_=Q.asked_at)
        asked = func.count()
        query = (
            self._joined(
                start,
                end,
                _TOPIC,
                Q.text_hash,
                func.min(Q.text),
                asked,
                _count_if(Q.grounded.is_(False)),
                _count_if(FeedbackRow.rating == -1),
                func.max(failed_at),
                func.max(succeeded_at),
            )
            .where(_TOPIC.in_(list(topics)))
            .group_by(_TOPIC, Q.text_hash)
            .order_by(asked.desc(), Q.text_hash)
        )
        return [TextStats(*row) for row in self._rows(query)]

    def topic_sources(
        self, start: datetime, end: datetime, topics: Sequence[int]
    ) -> list[tuple[int, str, int]]:
        """``(topic, source, answers citing it)`` for ``topics``, most cited first."""
        if not topics:
            return []
        cited = func.count()
        query = (
            select(_TOPIC, QuestionSourceRow.source, cited)
            .select_from(QuestionSourceRow)
            .join(Q, Q.id == QuestionSourceRow.question_id)
            .join(QuestionVectorRow, QuestionVectorRow.text_hash == Q.text_hash)
            .where(self._in(start, end), _TOPIC.in_(list(topics)))
            .group_by(_TOPIC, QuestionSourceRow.source)
            .order_by(cited.desc(), QuestionSourceRow.source)
        )
        return [(int(t), str(s), int(n)) for t, s, n in self._rows(query)]

    def page_usage(self, start: datetime, end: datetime) -> list[tuple[str, int, int, int]]:
        """``(source, answers citing it, up, down)`` per cited document, most cited first."""
        cited = func.count()
        query = (
            select(
                QuestionSourceRow.source,
                cited,
                _count_if(FeedbackRow.rating == 1),
                _count_if(FeedbackRow.rating == -1),
            )
            .select_from(QuestionSourceRow)
            .join(Q, Q.id == QuestionSourceRow.question_id)
            .outerjoin(FeedbackRow, FeedbackRow.message_id == Q.id)
            .where(self._in(start, end))
            .group_by(QuestionSourceRow.source)
            .order_by(cited.desc(), QuestionSourceRow.source)
        )
        return [(str(s), int(n), int(u), int(d)) for s, n, u, d in self._rows(query)]

    def documents(self) -> list[tuple[str, str]]:
        """``(source, title)`` of every indexed document, by source."""
        query = (
            select(DocumentRow.source, DocumentRow.title)
            .where(DocumentRow.status == "completed")
            .order_by(DocumentRow.source)
        )
        return [(str(s), str(t or "")) for s, t in self._rows(query)]

    def version(self) -> tuple[Any, ...]:
        """What changes whenever a question, a rating or a topic is added, changed or removed."""
        with self._engine.connect() as connection:
            asked = connection.execute(select(func.count(), func.max(Q.asked_at))).one()
            # A rating changed from up to down moves the sum.
            rated = connection.execute(
                select(func.count(), func.max(FeedbackRow.created_at), func.sum(FeedbackRow.rating))
            ).one()
            grouped = connection.scalar(select(func.count()).select_from(QuestionVectorRow))
        return (*asked, *rated, grouped)
