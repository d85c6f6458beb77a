"""scripts/capacity-report.sh on real deployments (SQLite and PostgreSQL).

The fixture corpus is ingested for real; documents are then backdated and conversations
added with chosen ``created_at`` times, so the 7- and 30-day growth figures are known.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from deployments import deployment, script
from sqlalchemy import Engine, create_engine, func, insert, select, text, update

from rag_chatbot.db.models import ChunkRow, DocumentRow, MessageRow, SessionRow

# Days ago each document (by source) and each conversation was created.
DOCUMENT_AGES = {"lighthouse.md": 3, "tea.txt": 10, "guides/composting.html": 45}
CONVERSATION_AGES = [1, 2, 6, 20, 29, 31, 90]  # two messages each


def _engine(env: dict[str, str]) -> Engine:
    url = env.get("DATABASE_URL") or f"sqlite:///{env['DATA_DIR']}/rag-chatbot.db"
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


def _backdate(engine: Engine, now: datetime) -> None:
    with engine.begin() as connection:
        for source, days in DOCUMENT_AGES.items():
            connection.execute(
                update(DocumentRow)
                .where(DocumentRow.source == source)
                .values(created_at=now - timedelta(days=days))
            )
        for days in CONVERSATION_AGES:
            at = now - timedelta(days=days)
            session_id = str(uuid.uuid4())
            connection.execute(
                insert(SessionRow).values(id=session_id, title="t", created_at=at, updated_at=at)
            )
            for role in ("user", "assistant"):
                connection.execute(
                    insert(MessageRow).values(
                        id=str(uuid.uuid4()),
                        session_id=session_id,
                        role=role,
                        content="x",
                        citations=[],
                        created_at=at,
                    )
                )


def _expected_growth(engine: Engine, days: int) -> dict[str, int]:
    sources = [s for s, age in DOCUMENT_AGES.items() if age < days]
    with engine.connect() as connection:
        passages = connection.scalar(
            select(func.count())
            .select_from(ChunkRow)
            .join(DocumentRow)
            .where(DocumentRow.source.in_(sources))
        )
    conversations = sum(1 for age in CONVERSATION_AGES if age < days)
    return {
        "documents": len(sources),
        "passages": int(passages or 0),
        "sessions": conversations,
        "messages": 2 * conversations,
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def deployed(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    fixture_corpus: Path,
    new_pg_database: Callable[[], str],
) -> dict[str, str]:
    url = None
    if request.param == "postgresql":
        # The plain libpq form the deployment files document.
        url = new_pg_database().replace("postgresql+psycopg://", "postgresql://")
    return deployment(tmp_path, fixture_corpus, url)


@pytest.mark.slow
@pytest.mark.integration
def test_counts_sizes_and_growth_match_the_deployment(deployed: dict[str, str]) -> None:
    engine = _engine(deployed)
    _backdate(engine, datetime.now(UTC))
    uploads = Path(deployed["DATA_DIR"]) / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / "manual.pdf").write_bytes(b"%PDF" + bytes(20_000))
    engine.dispose()  # the last connection out checkpoints the WAL into the file
    sqlite_bytes = _sqlite_bytes(Path(deployed["DATA_DIR"]) / "rag-chatbot.db")
    ran = script("capacity-report.sh", "--json", env=deployed)
    assert ran.returncode == 0, ran.stderr
    report: dict[str, Any] = json.loads(ran.stdout)

    with engine.connect() as connection:
        for name, table in (("documents", "documents"), ("passages", "chunks")):
            counted = connection.scalar(text(f"SELECT count(*) FROM {table}"))
            assert report["counts"][name] == counted
        if engine.dialect.name == "postgresql":
            size = connection.scalar(text("SELECT pg_database_size(current_database())"))
            assert report["database"]["bytes"] == pytest.approx(size, rel=0.05)
    engine.dispose()
    assert report["counts"]["documents"] == 3
    assert report["counts"]["sessions"] == len(CONVERSATION_AGES)
    assert report["counts"]["messages"] == 2 * len(CONVERSATION_AGES)
    for days in (7, 30):
        assert report["growth"][f"{days}d"] == _expected_growth(engine, days)

    if engine.dialect.name == "sqlite":
        assert report["database"]["bytes"] == sqlite_bytes
    index = report["index"]
    assert index["kind"] == "embedded" and index["path"].endswith("/data/qdrant")
    assert 0 < index["bytes"] <= _du(Path(index["path"]))
    assert report["uploads"]["bytes"] >= 20_004
    room = report["headroom"]
    assert room["free_bytes"] == pytest.approx(
        shutil.disk_usage(deployed["DATA_DIR"]).free, rel=0.01
    )
    assert room["daily_growth_bytes"] > 0
    assert room["days"] == pytest.approx(room["free_bytes"] / room["daily_growth_bytes"], rel=0.01)
    if engine.dialect.name == "postgresql":
        assert room["database_daily_growth_bytes"] > 0


def _sqlite_bytes(database: Path) -> int:
    if not database.exists():
        return 0
    wal = database.with_name(database.name + "-wal")
    return database.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _du(path: Path) -> int:
    """What ``du`` says the folder takes, directories included (an upper bound)."""
    import subprocess

    out = subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


@pytest.mark.slow
@pytest.mark.integration
def test_the_text_report_reads_as_a_review(tmp_path: Path, fixture_corpus: Path) -> None:
    env = deployment(tmp_path, fixture_corpus)
    ran = script("capacity-report.sh", env=env)
    assert ran.returncode == 0, ran.stderr
    assert "documents: 3, passages: " in ran.stdout
    assert "created in the last 7d: 3 documents" in ran.stdout
    assert "created in the last 30d: 3 documents" in ran.stdout
    assert "free of" in ran.stdout and "/day at the last 30 days' rate" in ran.stdout
