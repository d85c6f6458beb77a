"""Request figures from the ``response_time`` lines of ``LOG_DIR/app.log``: exact, per route.

The service writes one such line per HTTP request, as text (``LOG_FORMAT=text``)::

    <ISO time> INFO rag_chatbot.http response_time <ms> method=GET path=/api/documents/3f2c
        route=/api/documents/{document_id} status=200 request_id=...   (one line)

or as JSON (``LOG_FORMAT=json``) with ``"event": "response_time"``, ``duration_ms``,
``method``, ``path``, ``route`` and ``status``. Both forms are read, line by line, from
``app.log`` and its rotated copies (``app.log.1``, ``app.log.2.gz``, ``app.log-20240101``...):
files last written before the period are skipped unread. Percentiles are exact (nearest rank
over every request of the period), unlike the histogram's estimates.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from rag_chatbot.durations import seconds_of
from rag_chatbot.errors import InvalidInput

EVENT = "response_time"


@dataclass(frozen=True)
class Request:
    at: datetime
    method: str
    route: str
    status: int
    ms: float


@dataclass
class RouteLog:
    """The durations (ms) and statuses of one route's requests."""

    durations: list[float] = field(default_factory=list)
    errors: int = 0  # 5xx
    client_errors: int = 0  # 4xx


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``24h``, ``7d``, ``30m``, ``90s``, ``2w`` before ``now``, or an ISO-8601 time (UTC if
    it has no zone); ``InvalidInput`` otherwise."""
    now = now or datetime.now(UTC)
    seconds = seconds_of(text)
    if seconds is not None:
        return now - timedelta(seconds=seconds)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"--since: {text!r} is neither a period (24h, 7d, 30m) nor an ISO-8601 time"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_line(line: str) -> Request | None:
    """The request a ``response_time`` line records, or None for any other line."""
    line = line.strip()
    if line.startswith("{"):
        return _json_line(line)
    parts = line.split()
    if len(parts) < 5 or parts[3] != EVENT:
        return None
    fields = dict(part.split("=", 1) for part in parts[5:] if "=" in part)
    try:
        return Request(
            at=_moment(parts[0]),
            method=fields.get("method", "?"),
            route=fields.get("route") or fields.get("path", "?"),
            status=int(fields.get("status", "0")),
            ms=float(parts[4]),
        )
    except ValueError:
        return None


def _json_line(line: str) -> Request | None:
    try:
        entry = json.loads(line)
        if not isinstance(entry, dict) or entry.get("event") != EVENT:
            return None
        return Request(
            at=_moment(str(entry["timestamp"])),
            method=str(entry.get("method", "?")),
            route=str(entry.get("route") or entry.get("path", "?")),
            status=int(entry.get("status", 0)),
            ms=float(entry["duration_ms"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def log_files(log_dir: Path, since: datetime) -> list[Path]:
    """``app.log`` and its rotated copies that may hold lines after ``since``, oldest first."""
    found = [
        path
        for path in log_dir.glob("app.log*")
        if path.is_file() and path.stat().st_mtime >= since.timestamp()
    ]
    return sorted(found, key=lambda p: p.stat().st_mtime)


def read_requests(files: Iterable[Path], since: datetime) -> Iterator[Request]:
    for path in files:
        with _open(path) as stream:
            for line in stream:
                request = parse_line(line)
                if request is not None and request.at >= since:
                    yield request


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open(encoding="utf-8", errors="replace")


def by_route(
    requests: Iterable[Request],
) -> tuple[dict[tuple[str, str], RouteLog], datetime | None]:
    """Requests grouped by ``(method, route)``, and the time of the earliest one."""
    routes: dict[tuple[str, str], RouteLog] = {}
    first: datetime | None = None
    for request in requests:
        route = routes.setdefault((request.method, request.route), RouteLog())
        route.durations.append(request.ms)
        if request.status >= 500:
            route.errors += 1
        elif request.status >= 400:
            route.client_errors += 1
        if first is None or request.at < first:
            first = request.at
    return routes, first


def exact_percentile(q: float, values: list[float]) -> float | None:
    """Nearest rank: the smallest value with at least ``q`` of all values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
