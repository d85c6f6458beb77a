"""The declarative base and the one rule for timestamps (stored naive UTC, read aware)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    DateTime,
    Dialect,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A point in time, stored as naive UTC and always read back timezone-aware (UTC).

    The column stays a plain ``timestamp`` / ``DATETIME`` (what the schema had before
    migrations), but conversion happens here rather than in the driver: PostgreSQL would
    otherwise shift aware values by the server's TimeZone, and SQLite keeps no zone at all.
    Naive datetimes passed in are taken to be UTC already.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    # Every ``Mapped[datetime]`` column is a UTCDateTime: one rule for all timestamps.
    type_annotation_map = {datetime: UTCDateTime}  # noqa: RUF012
