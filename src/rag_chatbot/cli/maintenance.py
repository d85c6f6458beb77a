"""Upkeep commands the maintenance scripts run: ``sessions prune`` (conversations, and the
analytics record of old questions), ``index compact``, ``db vacuum`` (see
``rag_chatbot.ops.retention`` and ``rag_chatbot.ops.compaction``).

Exit status: 0 done (or nothing to do); 1 the work failed; 2 a bad setting, or a store that
could not be opened (the embedded index held by a running server, unless --skip-if-busy).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy import Engine

from rag_chatbot.cli.failures import fail, reported
from rag_chatbot.config import Settings, load_settings
from rag_chatbot.db.engine import create_db_engine
from rag_chatbot.errors import ProviderUnavailable

sessions_app = typer.Typer(help="Conversations kept in the database.", no_args_is_help=True)
index_app = typer.Typer(help="The vector index.", no_args_is_help=True)
_out = Console(soft_wrap=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def settings_or_exit() -> Settings:
    with reported(2):
        return load_settings()


@contextmanager
def database(settings: Settings) -> Iterator[Engine]:
    """An engine on the configured database, disposed of afterwards."""
    with reported(2):
        engine = create_db_engine(settings)
    try:
        with reported(1):
            yield engine
    finally:
        engine.dispose()


def say(as_json: bool, result: dict[str, Any], line: str) -> None:
    if as_json:
        _out.file.write(json.dumps(result, default=str) + "\n")
    else:
        _out.print(line, highlight=False, markup=False)


@sessions_app.command("prune")
def prune(
    older_than: Annotated[
        int | None,
        typer.Option(
            "--older-than",
            min=1,
            metavar="DAYS",
            help="Delete conversations idle more than DAYS (default: SESSION_RETENTION_DAYS).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete conversations idle for longer than the retention, with their messages and feedback;
    then the analytics record of questions older than ANALYTICS_RETENTION_DAYS."""
    from rag_chatbot.ops.retention import prune_questions, prune_sessions

    settings = settings_or_exit()
    days = older_than if older_than is not None else settings.session_retention_days
    with database(settings) as engine:
        result = prune_sessions(engine, days, dry_run=dry_run) if days else None
        analytics = prune_questions(engine, settings.analytics_retention_days, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    report: dict[str, Any] = {"older_than_days": days, "sessions": 0, "messages": 0, "feedback": 0}
    line = "SESSION_RETENTION_DAYS is 0: every conversation is kept"
    if result is not None:
        report |= {
            "cutoff": result.cutoff.isoformat(timespec="seconds"),
            "dry_run": dry_run,
            "sessions": result.sessions,
            "messages": result.messages,
            "feedback": result.feedback,
            "questions": result.questions,
        }
        line = (
            f"{verb} {result.sessions} conversation(s) idle since before "
            f"{result.cutoff:%Y-%m-%d %H:%M} UTC ({days} days): {result.messages} message(s), "
            f"{result.feedback} feedback rating(s)"
        )
    kept = settings.analytics_retention_days
    report["analytics"] = {
        "older_than_days": kept,
        "cutoff": analytics.cutoff.isoformat(timespec="seconds") if kept else None,
        "questions": analytics.questions,
        "vectors": analytics.vectors,
        "topics": analytics.topics,
    }
    line += (
        f"\nanalytics: {verb} {analytics.questions} question(s) asked before "
        f"{analytics.cutoff:%Y-%m-%d %H:%M} UTC ({kept} days)"
        if kept
        else "\nanalytics: ANALYTICS_RETENTION_DAYS is 0: kept as long as their conversation"
    )
    say(as_json, report, line)


@index_app.command("compact")
def compact(
    skip_if_busy: Annotated[
        bool,
        typer.Option(
            "--skip-if-busy",
            help="When a running server holds the embedded index, say so and exit 0.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Compact the vector index: segments rewritten without deleted points, small ones merged."""
    settings = settings_or_exit()
    result = _compact_or_skip(settings, skip_if_busy)
    if result is None:
        say(
            as_json,
            {"kind": "embedded", "skipped": True},
            "skipped: a running server holds the embedded index (it optimizes the index after "
            "every ingest); stop it to compact now",
        )
    elif result["kind"] == "server":
        say(
            as_json,
            result,
            f"Qdrant collection {result['collection']}: {result['points']} points in "
            f"{result['segments']} segments, status {result['status']}, optimizer "
            f"{result['optimizer']} ({result['note']})",
        )
    elif "note" in result:
        say(as_json, result, f"{result['path']}: {result['note']}")
    else:
        say(
            as_json,
            result,
            f"compacted {result['path']}: {result['points']} points, "
            f"{result['bytes_before']} -> {result['bytes_after']} bytes in {result['seconds']} s",
        )


def _compact_or_skip(settings: Settings, skip_if_busy: bool) -> dict[str, Any] | None:
    """The compaction's result; None when it was skipped because the index is busy."""
    from rag_chatbot.ops.compaction import compact_index

    with reported(1, config_code=2):
        try:
            return compact_index(settings)
        except ProviderUnavailable as exc:
            if settings.qdrant_url:  # the server cannot be reached
                raise
            # Embedded: the shard's lock is held by another process (a running server).
            if skip_if_busy:
                return None
            raise fail(str(exc), 2) from exc


def vacuum(as_json: JsonFlag = False) -> None:
    """Vacuum and analyze the database (PostgreSQL VACUUM ANALYZE; SQLite VACUUM, ANALYZE)."""
    from rag_chatbot.ops.compaction import vacuum_database

    settings = settings_or_exit()
    with database(settings) as engine:
        result = vacuum_database(settings, engine)
    say(
        as_json,
        result,
        f"vacuumed the {result['backend']} database: {result['bytes_before']} -> "
        f"{result['bytes_after']} bytes in {result['seconds']} s",
    )
