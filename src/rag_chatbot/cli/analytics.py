"""``rag-chatbot analytics summary|gaps|questions|pages``: the admin page's reports in a terminal.

``summary`` and ``pages`` read the database only. ``gaps`` and ``questions`` group questions
by meaning, so they load the embedding model; ``gaps`` also searches the index for each gap's
nearest pages — when a running server holds the embedded index, they are left out (and said
so on standard error). Exit status 2 for a bad ``--since`` or setting, 1 when the work fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rag_chatbot.analytics import Analytics, Period, build_analytics, since
from rag_chatbot.analytics.export import to_csv
from rag_chatbot.backends import build_embedder
from rag_chatbot.cli.failures import fail, reported
from rag_chatbot.config import Settings, load_settings
from rag_chatbot.container import Container, build_container
from rag_chatbot.db.engine import create_db_engine
from rag_chatbot.errors import ProviderUnavailable, RagChatbotError

analytics_app = typer.Typer(
    help="What readers asked: summary, coverage gaps, top questions, pages.",
    no_args_is_help=True,
)
_out = Console(soft_wrap=True)
_err = Console(stderr=True, soft_wrap=True)

Since = Annotated[
    str, typer.Option("--since", metavar="PERIOD", help="Days or weeks up to today: 30d, 4w.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]
AsCsv = Annotated[bool, typer.Option("--csv", help="Print the report as CSV.")]
Limit = Annotated[int, typer.Option("--limit", min=1, max=1000, help="Items listed at most.")]


def _period(text: str) -> Period:
    try:
        return since(text)
    except RagChatbotError as exc:
        raise fail(str(exc), 2) from exc


@contextmanager
def _reports(grouped: bool, searched: bool = False) -> Iterator[Analytics]:
    """The reports; ``grouped`` loads the model, ``searched`` opens the index as well."""
    with reported(2):
        settings = load_settings()
        container = _container(settings) if searched else None
    if container is not None:
        try:
            with reported(1):
                yield build_analytics(
                    container.engine,
                    container.embedder,
                    retriever=container.retriever,
                    lexical=container.lexical,
                    grounding_threshold=settings.grounding_threshold,
                    index_version=container.repository.index_version,
                )
        finally:
            container.close()
        return
    with reported(2):
        engine = create_db_engine(settings)
        embedder = build_embedder(settings) if grouped or searched else None
    try:
        with reported(1):
            yield build_analytics(engine, embedder)
    finally:
        engine.dispose()


def _container(settings: Settings) -> Container | None:
    """The whole container, or None (said on standard error) while a server holds the
    embedded index."""
    try:
        return build_container(settings)
    except ProviderUnavailable:
        if settings.qdrant_url:
            raise
        _err.print(
            "note: a running server holds the embedded index: nearest pages are left out",
            highlight=False,
            markup=False,
        )
        return None


def _emit(kind: str, report: dict[str, Any], as_json: bool, as_csv: bool) -> bool:
    """Print the report as JSON or CSV when asked; False when the caller prints text."""
    if as_json and as_csv:
        raise fail("choose one of --json and --csv", 2)
    if as_json:
        _out.file.write(json.dumps(report, ensure_ascii=False) + "\n")
    elif as_csv:
        _out.file.write(to_csv(kind, report))
    return as_json or as_csv


def _table(*columns: str) -> Table:
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _say(text: str) -> None:
    _out.print(text, highlight=False, markup=False)


@analytics_app.command("summary")
def summary(since_: Since = "30d", as_json: AsJson = False, as_csv: AsCsv = False) -> None:
    """Questions, readers, unanswered rate, ratings, cache hits and latency; per day."""
    period = _period(since_)
    with _reports(grouped=False) as reports:
        report = reports.summary(period)
    if _emit("summary", report, as_json, as_csv):
        return
    latency = report["latency_ms"]
    _say(
        f"{report['from']} to {report['to']}: {report['questions']} question(s) from "
        f"{report['askers']} reader(s); {report['unanswered']} unanswered "
        f"({report['unanswered_rate']:.1%}); feedback +{report['feedback']['up']} "
        f"-{report['feedback']['down']}; cache hits {report['cache_hit_rate']:.1%}; latency "
        f"p50 {latency['p50']} ms, p95 {latency['p95']} ms"
    )
    table = _table("date", "questions", "unanswered", "up", "down")
    for day in report["per_day"]:
        if day["questions"] or day["up"] or day["down"]:
            table.add_row(*(str(day[k]) for k in ("date", "questions", "unanswered", "up", "down")))
    _out.print(table)


@analytics_app.command("gaps")
def gaps(
    since_: Since = "30d", limit: Limit = 20, as_json: AsJson = False, as_csv: AsCsv = False
) -> None:
    """Declined or disliked questions grouped into topics, most hit first, with nearest pages."""
    period = _period(since_)
    with _reports(grouped=True, searched=True) as reports:
        report = reports.gaps(period, limit=limit)
    if _emit("gaps", report, as_json, as_csv):
        return
    table = _table("id", "count", "status", "topic", "nearest pages")
    for gap in report["gaps"]:
        nearest = ", ".join(page["url"] for page in gap["nearest"])
        topic = gap["label"] + (f"  [{', '.join(gap['keywords'])}]" if gap["keywords"] else "")
        table.add_row(str(gap["id"]), str(gap["count"]), gap["status"], topic, nearest)
    _say(f"{report['total']} gap(s), {report['from']} to {report['to']}")
    _out.print(table)


@analytics_app.command("questions")
def questions(
    since_: Since = "30d", limit: Limit = 20, as_json: AsJson = False, as_csv: AsCsv = False
) -> None:
    """The most asked topics, with the share answered and the pages cited."""
    period = _period(since_)
    with _reports(grouped=True) as reports:
        report = reports.questions(period, limit=limit)
    if _emit("questions", report, as_json, as_csv):
        return
    table = _table("id", "asked", "answered", "topic", "pages cited")
    for topic in report["topics"]:
        cited = ", ".join(f"{p['source']} ({p['count']})" for p in topic["pages"])
        share = f"{topic['answered_share']:.0%}"
        table.add_row(str(topic["id"]), str(topic["count"]), share, topic["label"], cited)
    _say(f"{report['total']} topic(s), {report['from']} to {report['to']}")
    _out.print(table)


@analytics_app.command("pages")
def pages(
    since_: Since = "30d", limit: Limit = 20, as_json: AsJson = False, as_csv: AsCsv = False
) -> None:
    """Per document: answers citing it and their ratings; the documents never cited."""
    period = _period(since_)
    with _reports(grouped=False) as reports:
        report = reports.pages(period, limit=limit)
    if _emit("pages", report, as_json, as_csv):
        return
    table = _table("cited", "up", "down", "document")
    for page in report["pages"]:
        table.add_row(str(page["cited"]), str(page["up"]), str(page["down"]), page["source"])
    _out.print(table)
    unused = [page["source"] for page in report["never_cited"]]
    _say(
        f"never cited ({report['never_cited_total']}): {', '.join(unused)}"
        if unused
        else "every document was cited"
    )
