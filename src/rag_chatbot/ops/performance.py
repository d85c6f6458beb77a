"""The performance report: latency, errors, throughput and cache use, from three sources.

- ``metrics_section``: the service's ``/api/metrics``. Quantiles are estimated from the
  duration histogram (bucket interpolation). Throughput: with a window, the requests counted
  between two scrapes that many seconds apart, divided by it; without, the totals since the
  process started (``process_start_time_seconds``; absent with several workers, then none).
- ``logs_section``: the ``response_time`` lines of ``LOG_DIR/app.log`` since a time, exact.
- ``database_section``: PostgreSQL's slowest statements from ``pg_stat_statements``.

Each section is a JSON-ready dict; a source that cannot be read gives ``{"error": ...}``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from rag_chatbot.ops.logstats import by_route, exact_percentile, log_files, read_requests
from rag_chatbot.ops.scrape import Scrape, histogram_quantile, merged_buckets, parse_scrape

QUANTILES = (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99))


def scrape(url: str, timeout: float = 10.0) -> Scrape:
    """GET ``url``/api/metrics and parse it (``httpx.HTTPError`` / ``ValueError`` if not)."""
    response = httpx.get(f"{url.rstrip('/')}/api/metrics", timeout=timeout)
    response.raise_for_status()
    return parse_scrape(response.text)


def metrics_section(url: str, window: float | None = None, top: int = 5) -> dict[str, Any]:
    try:
        first = scrape(url)
        if window:
            time.sleep(window)
            later = scrape(url)
            counted, seconds = later.minus(first), later.taken_at - first.taken_at
            basis = f"requests counted between two scrapes {seconds:.0f} s apart"
        else:
            counted = first
            started = first.process_start
            seconds = first.taken_at - started if started else 0.0
            basis = (
                f"since the process started {seconds:.0f} s ago (process_start_time_seconds)"
                if started
                else "unknown: no process_start_time_seconds (several workers); use --window"
            )
    except (httpx.HTTPError, ValueError) as exc:
        return {"source": f"{url}/api/metrics", "error": f"{type(exc).__name__}: {exc}"}
    routes = []
    for (method, route), counts in sorted(counted.routes.items()):
        quantiles = {name: _ms(histogram_quantile(q, counts.buckets)) for name, q in QUANTILES}
        routes.append(
            {
                "method": method,
                "route": route,
                "requests": int(counts.requests),
                "errors": int(counts.errors),
                "client_errors": int(counts.client_errors),
                "error_rate": _ratio(counts.errors, counts.requests),
                **quantiles,
                "per_second": _ratio(counts.requests, seconds),
            }
        )
    total = sum(c.requests for c in counted.routes.values())
    errors = sum(c.errors for c in counted.routes.values())
    overall = merged_buckets(counted.routes.values())
    lookups = counted.cache_hits + counted.cache_misses
    return {
        "source": f"{url}/api/metrics",
        "throughput_basis": basis,
        "seconds": round(seconds, 1),
        "requests": int(total),
        "errors": int(errors),
        "error_rate": _ratio(errors, total),
        "per_second": _ratio(total, seconds),
        **{name: _ms(histogram_quantile(q, overall)) for name, q in QUANTILES},
        "cache": {
            "hits": int(counted.cache_hits),
            "misses": int(counted.cache_misses),
            "hit_rate": _ratio(counted.cache_hits, lookups),
        },
        "routes": routes,
        "slowest": _slowest(routes, top),
    }


def logs_section(log_dir: Path | None, since: datetime, top: int = 5) -> dict[str, Any]:
    if log_dir is None:
        return {"error": "LOG_DIR is not set: the service writes no app.log"}
    files = log_files(log_dir, since)
    if not (log_dir / "app.log").is_file() and not files:
        return {"source": str(log_dir / "app.log"), "error": "no app.log in LOG_DIR"}
    routes_log, first = by_route(read_requests(files, since))
    now = datetime.now(UTC)
    seconds = (now - max(since, first)).total_seconds() if first else 0.0
    routes = []
    for (method, route), entry in sorted(routes_log.items()):
        count = len(entry.durations)
        routes.append(
            {
                "method": method,
                "route": route,
                "requests": count,
                "errors": entry.errors,
                "client_errors": entry.client_errors,
                "error_rate": _ratio(entry.errors, count),
                **{name: exact_percentile(q, entry.durations) for name, q in QUANTILES},
                "per_second": _ratio(count, seconds),
            }
        )
    every = [ms for entry in routes_log.values() for ms in entry.durations]
    errors = sum(entry.errors for entry in routes_log.values())
    return {
        "source": str(log_dir / "app.log"),
        "files": [str(f) for f in files],
        "since": since.isoformat(timespec="seconds"),
        "throughput_basis": "requests logged from the start of the period (or the first "
        "line, if later) until now",
        "seconds": round(seconds, 1),
        "requests": len(every),
        "errors": errors,
        "error_rate": _ratio(errors, len(every)),
        "per_second": _ratio(len(every), seconds),
        **{name: exact_percentile(q, every) for name, q in QUANTILES},
        "routes": routes,
        "slowest": _slowest(routes, top),
    }


_STATEMENTS = text(
    "SELECT query, calls, mean_exec_time, total_exec_time, rows FROM pg_stat_statements "
    "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "ORDER BY mean_exec_time DESC LIMIT :top"
)


def database_section(engine: Engine, top: int = 10) -> dict[str, Any]:
    if engine.dialect.name != "postgresql":
        return {"backend": engine.dialect.name, "note": "statement statistics need PostgreSQL"}
    try:
        with engine.connect() as connection:
            installed = connection.scalar(
                text("SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'")
            )
            if installed is None:
                return {
                    "backend": "postgresql",
                    "note": "pg_stat_statements is not installed in this database: add "
                    "shared_preload_libraries = 'pg_stat_statements' to postgresql.conf, "
                    "restart, then CREATE EXTENSION pg_stat_statements",
                }
            rows = connection.execute(_STATEMENTS, {"top": top}).mappings().all()
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return {"backend": "postgresql", "error": f"pg_stat_statements: {first}"}
    return {
        "backend": "postgresql",
        "statements": [
            {
                "query": " ".join(str(row["query"]).split()),
                "calls": int(row["calls"]),
                "mean_ms": round(float(row["mean_exec_time"]), 3),
                "total_ms": round(float(row["total_exec_time"]), 1),
                "rows": int(row["rows"]),
            }
            for row in rows
        ],
    }


def _slowest(routes: list[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    timed = [r for r in routes if r["p95_ms"] is not None]
    ranked = sorted(timed, key=lambda r: (r["p95_ms"], r["requests"]), reverse=True)
    return [
        {"method": r["method"], "route": r["route"], "p95_ms": r["p95_ms"]} for r in ranked[:top]
    ]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 6) if whole > 0 else None
