"""Analytics: the documentation owner's reports — summary, coverage gaps, top questions, pages.

Each report reads the ``questions`` record (``db.analytics``) for a period. The reports on
topics first bring the topics up to date (``TopicIndex.refresh``: only questions not seen
before are embedded). Reports are kept (a few, most recent) under the data's version — the
count and latest time of questions and ratings, the number of grouped questions — and the
index version, so a page view repeated before anything changed costs a handful of counts.

Nothing identifies a reader: questions are shown as text, readers are counted by ``asker``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from rag_chatbot.analytics.coverage import Coverage
from rag_chatbot.analytics.periods import Period
from rag_chatbot.analytics.reports import gap_reports, page_reports, question_reports
from rag_chatbot.analytics.topics import TopicIndex
from rag_chatbot.db.analytics import AnalyticsQueries
from rag_chatbot.errors import ConfigError

T = TypeVar("T")
_KEPT = 32


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


class Analytics:
    """The reports (see module doc). ``coverage`` is None where no index can be searched
    (then gaps have no nearest pages and are closed only by readers' later answers);
    ``topics`` None where no model is loaded: the reports on topics then raise ``ConfigError``.
    """

    def __init__(
        self, queries: AnalyticsQueries, topics: TopicIndex | None, coverage: Coverage | None
    ) -> None:
        self._queries = queries
        self._topics = topics
        self._coverage = coverage
        self._memo: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def _kept(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            self._memo[key] = value
            while len(self._memo) > _KEPT:
                self._memo.popitem(last=False)
        return value

    def _grouped(self) -> TopicIndex:
        if self._topics is None:
            raise ConfigError("the reports on topics need the embedding model")
        return self._topics

    def _versions(self) -> tuple[Any, ...]:
        index = self._coverage.version() if self._coverage is not None else ""
        return (*self._queries.version(), index)

    def summary(self, period: Period) -> dict[str, Any]:
        """Counts, rates and latency for the period, and the same per day (every day listed)."""
        key = ("summary", period, self._queries.version())
        return self._kept(key, lambda: self._summary(period))

    def _summary(self, period: Period) -> dict[str, Any]:
        start, end = period.start, period.end
        totals = self._queries.totals(start, end)
        p50, p95 = self._queries.latency_percentiles(start, end, (0.5, 0.95))
        days = self._queries.per_day(start, end)
        blank = {"questions": 0, "unanswered": 0, "up": 0, "down": 0}
        per_day = []
        for day in period.days():
            counts = days.get(day.isoformat(), blank)
            per_day.append(
                {
                    "date": day.isoformat(),
                    **counts,
                    "unanswered_rate": _rate(counts["unanswered"], counts["questions"]),
                }
            )
        questions = totals["questions"]
        return {
            **period.as_json(),
            "questions": questions,
            "askers": totals["askers"],
            "answered": questions - totals["unanswered"],
            "unanswered": totals["unanswered"],
            "unanswered_rate": _rate(totals["unanswered"], questions),
            "feedback": {"up": totals["up"], "down": totals["down"]},
            "cache_hit_rate": _rate(totals["cached"], questions),
            "latency_ms": {
                "p50": None if p50 is None else round(p50, 1),
                "p95": None if p95 is None else round(p95, 1),
            },
            "per_day": per_day,
        }

    def gaps(self, period: Period, *, limit: int = 20, offset: int = 0) -> dict[str, Any]:
        """Topics of unanswered or disliked questions, most hit first (see ``reports``)."""
        topics = self._grouped()
        pending = topics.refresh()
        key = ("gaps", period, limit, offset, self._versions())
        found = self._kept(
            key,
            lambda: gap_reports(self._queries, topics.store, self._coverage, period, limit, offset),
        )
        return {**period.as_json(), **found, "limit": limit, "offset": offset, "pending": pending}

    def questions(self, period: Period, *, limit: int = 20, offset: int = 0) -> dict[str, Any]:
        """Topics of all questions, most asked first, with the share answered and pages cited."""
        topics = self._grouped()
        pending = topics.refresh()
        key = ("questions", period, limit, offset, self._queries.version())
        found = self._kept(
            key, lambda: question_reports(self._queries, topics.store, period, limit, offset)
        )
        return {**period.as_json(), **found, "limit": limit, "offset": offset, "pending": pending}

    def pages(self, period: Period, *, limit: int = 20, offset: int = 0) -> dict[str, Any]:
        """Per document: answers citing it and their ratings; the documents never cited."""
        key = ("pages", period, limit, offset, self._versions())
        found = self._kept(key, lambda: page_reports(self._queries, period, limit, offset))
        return {**period.as_json(), **found, "limit": limit, "offset": offset}
