"""The period a report covers: whole UTC days, ``from`` and ``to`` included.

Without dates a report covers the last 30 days, today included. A period ends at the midnight
after its last day, so "the last 30 days" is the same period all day long (and reports cached
for it stay valid until a question arrives). Any two dates make a period, so that no valid
request is refused: ``from`` after ``to`` is an empty period (no day, nothing counted), and one
longer than five years keeps its last five years (``from`` says where it starts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from rag_chatbot.durations import seconds_of
from rag_chatbot.errors import InvalidInput

DEFAULT_DAYS = 30
MAX_DAYS = 1830  # five years of days in one report
_LAST_DAY = date.max - timedelta(days=1)  # its next midnight still exists


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The midnight after the last day (excluded); the start itself when the period is empty."""
        if self.first > self.last:
            return self.start
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=UTC)

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def as_json(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def today() -> date:
    return datetime.now(UTC).date()


def period(first: date | None = None, last: date | None = None) -> Period:
    """``first`` to ``last`` (default: the 30 days up to today); see the module doc for a
    reversed or overlong pair."""
    last = min(last or today(), _LAST_DAY)
    first = first or last - timedelta(days=min(DEFAULT_DAYS - 1, (last - date.min).days))
    if first <= last and (last - first).days + 1 > MAX_DAYS:
        first = last - timedelta(days=MAX_DAYS - 1)
    return Period(first, last)


def since(text: str) -> Period:
    """``30d`` or ``4w``: that many days up to today (the command line's ``--since``)."""
    seconds = seconds_of(text, "dw")
    if seconds is None:
        raise InvalidInput(f"--since takes days or weeks, like 30d or 4w, not {text!r}")
    days = min(int(seconds // 86400), MAX_DAYS)
    if days < 1:
        raise InvalidInput("--since must be at least 1d")
    end = today()
    return period(end - timedelta(days=days - 1), end)
