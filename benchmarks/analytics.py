"""Benchmark the analytics reports with 100,000 stored questions; prints figures, asserts nothing.

    PYTHONPATH=src python3 benchmarks/analytics.py [--database-url URL] [--questions 100000]
        [--texts 4000] [--corpus tests/fixtures/corpus]

Stores ``--questions`` questions over the last 180 days (``--texts`` distinct texts made from
topics and phrasings, about a fifth declined, one answer in twenty rated) from 3,000 readers
into a fresh database — SQLite in a temporary folder by default, or the empty database
``--database-url`` names (PostgreSQL: ``postgresql://postgres@127.0.0.1:5432/bench``) — with
the corpus indexed for the gaps' nearest pages. Then, timed:

- grouping: the first look at the questions embeds each distinct text once and puts it in a
  topic (what a server does once, on its first analytics request after an upgrade);
- the admin page cold: summary, gaps, top questions and pages (the page's four requests) by a
  fresh process's reports, with the vectors stored but no report kept;
- the admin page again: the same four requests, nothing changed (reports kept);
- the admin page after 200 new questions (50 new texts): their grouping and the reports again.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from machine import yardstick  # noqa: E402

from rag_chatbot.analytics import Analytics, build_analytics, period  # noqa: E402
from rag_chatbot.config import Settings  # noqa: E402
from rag_chatbot.container import Container, build_container  # noqa: E402
from rag_chatbot.db.asked import asked_rows  # noqa: E402
from rag_chatbot.db.models import (  # noqa: E402
    FeedbackRow,
    MessageRow,
    QuestionRow,
    QuestionSourceRow,
    SessionRow,
)

SUBJECTS = (
    "the lamp", "the lens", "the fog horn", "paraffin", "the logbook", "the wick", "a storm",
    "the tower", "compost", "the heap", "green tea", "black tea", "the kettle", "pricing",
    "the licence", "an API", "the mobile app", "dark mode", "exports", "backups", "accounts",
    "passwords", "the search", "citations", "uploads", "PDF files", "the widget", "languages",
    "keyboard shortcuts", "printing", "offline use", "notifications", "the admin page",
    "rate limits", "privacy", "deleting data", "teams", "invoices", "refunds", "trials",
)  # fmt: skip
PHRASINGS = (
    "How do I use {}?", "What is {}?", "Where can I find {}?", "Why does {} fail?",
    "Can I change {}?", "Is there documentation on {}?", "How does {} work?",
    "What are the limits of {}?", "Who maintains {}?", "When was {} introduced?",
    "How do I configure {}?", "Is {} supported?", "How much does {} cost?",
    "What replaces {}?", "How do I reset {}?", "Does {} work on a phone?",
    "How do I turn off {}?", "What is new in {}?", "How do I test {}?", "Where is {} stored?",
)  # fmt: skip
DETAILS = ("", " today", " for a team", " on Linux", " in version 2", " quickly")
SOURCES = ("lighthouse.md", "tea.txt", "guides/composting.html")


def texts(count: int, rng: random.Random) -> list[str]:
    made = [
        phrasing.format(subject) + detail
        for subject in SUBJECTS
        for phrasing in PHRASINGS
        for detail in DETAILS
    ]
    rng.shuffle(made)
    return made[:count]


def store(container: Container, questions: int, distinct: list[str], rng: random.Random) -> None:
    """Questions, sessions, citations and ratings, written in bulk (the rows the server writes)."""
    now = datetime.now(UTC)
    readers = [f"anon:{i}" for i in range(3000)]
    sessions: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    cited: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    ratings: list[dict[str, Any]] = []
    weights = [1 / (i + 1) ** 0.8 for i in range(len(distinct))]  # some asked far more
    for text in rng.choices(distinct, weights=weights, k=questions):
        owner = rng.choice(readers)
        session_id = sessions.setdefault(owner, {"id": str(uuid.uuid4())})["id"]
        at = now - timedelta(seconds=rng.uniform(0, 180 * 86400))
        grounded = rng.random() > 0.2
        answer_id = str(uuid.uuid4())
        row, sources = asked_rows(
            answer_id, session_id, owner, text, at=at, grounded=grounded,
            cached=rng.random() < 0.15, confidence=None, latency_ms=rng.uniform(20, 400),
            citations=[{"source": rng.choice(SOURCES)}] if grounded else [],
        )  # fmt: skip
        rows.append(row)
        cited += sources
        if rng.random() < 0.05:
            answers.append(
                {"id": answer_id, "session_id": session_id, "role": "assistant"}
                | {"content": "answer", "citations": [], "created_at": at}
            )
            ratings.append(
                {"id": str(uuid.uuid4()), "message_id": answer_id, "created_at": at}
                | {"rating": 1 if rng.random() < 0.7 else -1}
            )
    with container.engine.begin() as connection:
        connection.execute(
            insert(SessionRow),
            [
                {"id": s["id"], "owner": owner, "title": "", "created_at": now, "updated_at": now}
                for owner, s in sessions.items()
            ],
        )
        for table, values in (
            (QuestionRow, rows),
            (QuestionSourceRow, cited),
            (MessageRow, answers),
            (FeedbackRow, ratings),
        ):
            for start in range(0, len(values), 5000):
                connection.execute(insert(table), values[start : start + 5000])


def reports(container: Container) -> Analytics:
    """A fresh process's reports: nothing kept yet."""
    return build_analytics(
        container.engine,
        container.embedder,
        retriever=container.retriever,
        lexical=container.lexical,
        grounding_threshold=container.settings.grounding_threshold,
        index_version=container.repository.index_version,
    )


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def page_view(analytics: Analytics) -> dict[str, float]:
    """The admin page's four requests, each timed."""
    chosen = period()
    return {
        "summary": timed(lambda: analytics.summary(chosen)),
        "gaps": timed(lambda: analytics.gaps(chosen, limit=10)),
        "questions": timed(lambda: analytics.questions(chosen, limit=10)),
        "pages": timed(lambda: analytics.pages(chosen, limit=100)),
    }


def show(name: str, times: dict[str, float]) -> None:
    parts = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in times.items())
    print(f"{name}: {sum(times.values()) * 1000:.0f} ms ({parts})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an empty database (default: SQLite, temporary)")
    parser.add_argument("--questions", type=int, default=100_000)
    parser.add_argument("--texts", type=int, default=4000)
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "fixtures" / "corpus")
    args = parser.parse_args()
    print(yardstick(), flush=True)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(  # type: ignore[call-arg]
            data_dir=Path(folder) / "data",
            database_url=args.database_url,
            environment="development",
        )
        container = build_container(settings)
        try:
            container.pipeline.ingest_paths([args.corpus])
            distinct = texts(args.texts, rng)
            started = time.perf_counter()
            store(container, args.questions, distinct, rng)
            backend = container.engine.dialect.name
            print(
                f"{backend}: stored {args.questions} questions ({len(distinct)} texts) in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
            first = reports(container)
            grouping = timed(lambda: first.gaps(period(), limit=10))
            print(f"grouping, first look: {grouping:.1f} s (embeds every text once)", flush=True)
            show("admin page, cold", page_view(reports(container)))
            warm = reports(container)
            page_view(warm)
            show("admin page, again", page_view(warm))
            more = texts(args.texts + 50, random.Random(8))[-50:]
            store(container, 200, more + distinct[:150], rng)
            show("admin page, after 200 new questions", page_view(warm))
        finally:
            container.close()


if __name__ == "__main__":
    main()
