"""``rag-chatbot report performance|capacity``: the operator's reviews, as text or JSON.

The figures come from ``rag_chatbot.ops.performance`` and ``rag_chatbot.ops.capacity``; this
module only prints them. ``report performance`` exits 1 when none of its sources could be read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from rag_chatbot.cli.failures import fail, reported
from rag_chatbot.cli.maintenance import database, settings_or_exit

report_app = typer.Typer(help="Performance and capacity reports.", no_args_is_help=True)
_out = Console(soft_wrap=True, highlight=False)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]


@report_app.command("performance")
def performance(
    url: Annotated[
        str | None,
        typer.Option(help="The service (default: $RAG_CHATBOT_URL or http://127.0.0.1:8000)."),
    ] = None,
    window: Annotated[
        float | None,
        typer.Option(
            min=1,
            max=3600,
            metavar="SECONDS",
            help="Scrape twice, SECONDS apart: figures for that window only.",
        ),
    ] = None,
    since: Annotated[
        str, typer.Option(help="Log period: 24h, 7d, 30m, or an ISO-8601 time.")
    ] = "24h",
    log_dir: Annotated[
        Path | None, typer.Option("--log-dir", help="Where app.log is (default: LOG_DIR).")
    ] = None,
    top: Annotated[
        int, typer.Option(min=1, max=100, help="Slowest routes and statements listed.")
    ] = 10,
    as_json: JsonFlag = False,
) -> None:
    """Latency percentiles, error rate, throughput and cache hit rate, by route."""
    from rag_chatbot.ops.logstats import parse_since
    from rag_chatbot.ops.performance import database_section, logs_section, metrics_section

    settings = settings_or_exit()
    with reported(2):
        start = parse_since(since)
    base = (url or os.environ.get("RAG_CHATBOT_URL") or "http://127.0.0.1:8000").rstrip("/")
    report = {
        "metrics": metrics_section(base, window, top),
        "logs": logs_section(log_dir or settings.log_dir, start, top),
    }
    with database(settings) as engine:
        report["database"] = database_section(engine, top)
    if as_json:
        _out.file.write(json.dumps(report) + "\n")
    else:
        _print_performance(report)
    if all("error" in report[part] for part in ("metrics", "logs")):
        raise fail("neither /api/metrics nor the logs could be read (see above)")


def _print_performance(report: dict[str, Any]) -> None:
    metrics, logs, db = report["metrics"], report["logs"], report["database"]
    _out.rule(f"Metrics: {metrics['source']}", align="left")
    if "error" in metrics:
        _out.print(f"unavailable: {metrics['error']}", markup=False)
    else:
        _out.print(f"throughput basis: {metrics['throughput_basis']}", markup=False)
        _summary(metrics)
        cache = metrics["cache"]
        _out.print(
            f"response cache: {cache['hits']} hits, {cache['misses']} misses, "
            f"hit rate {_percent(cache['hit_rate'])}",
            markup=False,
        )
        _routes(metrics, "estimated from histogram buckets")
    _out.rule(f"Logs: {logs.get('source', 'app.log')}", align="left")
    if "error" in logs:
        _out.print(f"unavailable: {logs['error']}", markup=False)
    else:
        _out.print(f"since {logs['since']}; {logs['throughput_basis']}", markup=False)
        _summary(logs)
        _routes(logs, "exact")
    _out.rule("Database", align="left")
    if "statements" in db:
        _out.print("slowest statements by mean time (pg_stat_statements):")
        for row in db["statements"]:
            _out.print(
                f"  {row['mean_ms']:>10.3f} ms mean  {row['calls']:>8} calls  {row['query'][:100]}",
                markup=False,
            )
    else:
        _out.print(db.get("note") or db.get("error", ""), markup=False)


def _summary(section: dict[str, Any]) -> None:
    _out.print(
        f"{section['requests']} requests, {section['errors']} 5xx "
        f"(error rate {_percent(section['error_rate'])}), "
        f"{_number(section['per_second'])} requests/s; "
        f"p50 {_number(section['p50_ms'])} ms, p95 {_number(section['p95_ms'])} ms, "
        f"p99 {_number(section['p99_ms'])} ms",
        markup=False,
    )


def _routes(section: dict[str, Any], how: str) -> None:
    _out.print(f"by route (latency {how}, ms):", markup=False)
    _out.print(
        f"  {'requests':>8} {'5xx':>5} {'4xx':>5} {'p50':>8} {'p95':>8} {'p99':>8}  route",
        markup=False,
    )
    for row in section["routes"]:
        _out.print(
            f"  {row['requests']:>8} {row['errors']:>5} {row['client_errors']:>5} "
            f"{_number(row['p50_ms']):>8} {_number(row['p95_ms']):>8} "
            f"{_number(row['p99_ms']):>8}  {row['method']} {row['route']}",
            markup=False,
        )
    slowest = ", ".join(
        f"{r['method']} {r['route']} ({_number(r['p95_ms'])} ms)" for r in section["slowest"]
    )
    _out.print(f"slowest by p95: {slowest or '-'}", markup=False)


@report_app.command("capacity")
def capacity(as_json: JsonFlag = False) -> None:
    """Documents, passages, sizes on disk, growth over 7 and 30 days, days of disk left."""
    from rag_chatbot.ops.capacity import capacity_report

    settings = settings_or_exit()
    with database(settings) as engine:
        report = capacity_report(settings, engine)
    if as_json:
        _out.file.write(json.dumps(report) + "\n")
        return
    counts, db, index = report["counts"], report["database"], report["index"]
    _out.print(", ".join(f"{name}: {n}" for name, n in counts.items()), markup=False)
    where = db.get("path", "PostgreSQL pg_database_size")
    _out.print(f"database ({db['backend']}): {_bytes(db['bytes'])} ({where})", markup=False)
    if "error" in index:
        _out.print(f"index: unavailable: {index['error']}", markup=False)
    elif index["kind"] == "embedded":
        _out.print(f"index (embedded): {_bytes(index['bytes'])} in {index['path']}", markup=False)
    else:
        _out.print(
            f"index (Qdrant server, {index['collection']}): {index['points']} points, "
            f"{index['segments']} segments, status {index['status']}",
            markup=False,
        )
    uploads = report["uploads"]
    _out.print(f"uploads: {_bytes(uploads['bytes'])} in {uploads['path']}", markup=False)
    for window, grown in report["growth"].items():
        added = ", ".join(f"{n} {name}" for name, n in grown.items())
        _out.print(f"created in the last {window}: {added}", markup=False)
    room = report["headroom"]
    if room["days"] is None:
        days = "no growth: no limit in sight"
    elif room["days"] > 36500:
        days = "more than 100 years"
    else:
        days = f"about {room['days']} days"
    _out.print(
        f"data volume {room['volume']}: {_bytes(room['free_bytes'])} free of "
        f"{_bytes(room['total_bytes'])} ({room['used_percent']} % used); grows "
        f"{_bytes(room['daily_growth_bytes'])}/day at the last 30 days' rate: {days} left",
        markup=False,
    )
    if "database_daily_growth_bytes" in room:
        _out.print(
            f"the PostgreSQL database grows about {_bytes(room['database_daily_growth_bytes'])}"
            "/day on its own server's volume: check its free space there",
            markup=False,
        )


def _percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{100 * ratio:.2f} %"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _bytes(size: float | None) -> str:
    if size is None:
        return "unknown"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"
