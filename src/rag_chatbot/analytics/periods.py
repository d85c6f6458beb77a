"""The period a report covers: whole UTC days, ``from`` and ``to`` included.

Without dates a report covers the last 30 days, today included. A period ends at the midnight
after its last day, so "the last 30 days" is the same period all day long (and reports cached
for it stay valid until a question arrives).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from rag_chatbot.errors import InvalidInput

DEFAULT_DAYS = 30
MAX_DAYS = 1830  # five years of days in one report
_SINCE = re.compile(r"^\s*(\d+)\s*([dw])\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The midnight after the last day (excluded)."""
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=UTC)

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def as_json(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def today() -> date:
    return datetime.now(UTC).date()


def period(first: date | None = None, last: date | None = None) -> Period:
    """``first`` to ``last`` (default: the 30 days up to today); ``InvalidInput`` when reversed
    or longer than five years."""
    last = last or today()
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidInput(f"from ({first}) is after to ({last})")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput(f"a report covers at most {MAX_DAYS} days")
    return Period(first, last)


def since(text: str) -> Period:
    """``30d`` or ``4w``: that many days up to today (the command line's ``--since``)."""
    match = _SINCE.match(text)
    if match is None:
        raise InvalidInput(f"--since takes days or weeks, like 30d or 4w, not {text!r}")
    days = int(match[1]) * (7 if match[2].lower() == "w" else 1)
    if days < 1:
        raise InvalidInput("--since must be at least 1d")
    end = today()
    return period(end - timedelta(days=days - 1), end)
