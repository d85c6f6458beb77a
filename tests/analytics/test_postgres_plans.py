"""The summary's queries on PostgreSQL with 100,000 questions stored: every one reads the
period through ``ix_questions_asked_at`` — no sequential scan of questions, and messages are
never read. (Plans only: the timings are benchmarks/analytics.py's.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from postgres import fresh_database
from sqlalchemy import Engine, create_engine
from sqlalchemy.sql import ClauseElement

from rag_chatbot.analytics.periods import period, today
from rag_chatbot.db.analytics import AnalyticsQueries
from rag_chatbot.db.migrate import upgrade_to_head

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTIONS = 100_000
_FILL = """
INSERT INTO sessions (id, owner, title, created_at, updated_at)
SELECT 's' || g, 'reader' || mod(g, 900), '', now(), now() FROM generate_series(1, 5000) g;
INSERT INTO messages (id, session_id, role, content, citations, created_at)
SELECT 'q' || g, 's' || (mod(g, 5000) + 1), 'assistant', 'answer ' || g, '[]', now()
FROM generate_series(1, {n}) g;
INSERT INTO questions
  (id, session_id, asker, text, text_hash, grounded, cached, confidence, latency_ms, asked_at)
SELECT 'q' || g, 's' || (mod(g, 5000) + 1), md5(mod(g, 900)::text), 'question ' || mod(g, 4000),
       md5(mod(g, 4000)::text) || md5(mod(g, 4000)::text), mod(g, 5) <> 0, mod(g, 7) = 0, 0.5,
       mod(g, 400)::float, (now() at time zone 'utc') - mod(g, 180) * interval '1 day'
FROM generate_series(1, {n}) g;
INSERT INTO feedback (id, message_id, rating, created_at)
SELECT 'f' || g, 'q' || g, CASE WHEN mod(g, 3) = 0 THEN -1 ELSE 1 END, now()
FROM generate_series(1, {n}, 20) g;
"""


@pytest.fixture(scope="module")
def filled(postgres_admin: Engine) -> Iterator[Engine]:
    with fresh_database(postgres_admin, "rag_analytics_plans") as url:
        upgrade_to_head(url)
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            for statement in _FILL.format(n=QUESTIONS).split(";"):
                if statement.strip():
                    connection.exec_driver_sql(statement)
            connection.exec_driver_sql("VACUUM ANALYZE")
        yield engine
        engine.dispose()


def _plan(engine: Engine, query: ClauseElement) -> str:
    compiled = query.compile(dialect=engine.dialect)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).all()
    return "\n".join(row[0] for row in rows)


def _bounds(days: int) -> tuple[datetime, datetime]:
    chosen = period(today() - timedelta(days=days - 1), today())
    return chosen.start, chosen.end


def _summary_queries(queries: AnalyticsQueries, days: int) -> dict[str, ClauseElement]:
    start, end = _bounds(days)
    return {"per day": queries.per_day_query(start, end), **queries.statements(start, end)}


@pytest.mark.parametrize("days", [1, 30])
def test_the_summary_reads_the_period_by_its_index(filled: Engine, days: int) -> None:
    queries = AnalyticsQueries(filled)
    for name, query in _summary_queries(queries, days).items():
        plan = _plan(filled, query)
        assert "ix_questions_asked_at" in plan, f"{name}:\n{plan}"
        assert "Seq Scan on questions" not in plan, f"{name}:\n{plan}"
        assert "messages" not in plan, f"{name}:\n{plan}"


def test_the_per_day_counts_need_no_table_read(filled: Engine) -> None:
    queries = AnalyticsQueries(filled)
    plan = _plan(filled, queries.per_day_query(*_bounds(30)))
    assert "Index Only Scan using ix_questions_asked_at" in plan, plan
