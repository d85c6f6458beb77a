"""The capacity report: what the deployment holds, how fast it grows, how long the disk lasts.

Growth is counted from the ``created_at`` columns: documents, sessions and messages created in
the last 7 and 30 days, and the passages of the documents created then (passage rows carry no
time of their own; a re-ingested document keeps its first ``created_at``).

Headroom: bytes a day are estimated from the last 30 days' rows times the bytes a row of that
kind takes now: a passage's share of the index, the uploads and the document tables, and a
message's share of the conversation tables. Only what lives under ``DATA_DIR`` is weighed
against that volume's free space; a PostgreSQL database grows on its own server's volume,
so its daily growth is given separately.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from rag_chatbot.config import Settings
from rag_chatbot.db.models import ChunkRow, DocumentRow, FeedbackRow, MessageRow, SessionRow
from rag_chatbot.providers.vector_stores.payload import collection_name

WINDOWS = (7, 30)
_CONTENT_TABLES = ("documents", "chunks")
_CONVERSATION_TABLES = ("sessions", "messages", "feedback")


def capacity_report(
    settings: Settings, engine: Engine, now: datetime | None = None
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    with engine.connect() as connection:
        counts = {
            "documents": _count(connection, select(func.count()).select_from(DocumentRow)),
            "passages": _count(connection, select(func.count()).select_from(ChunkRow)),
            "sessions": _count(connection, select(func.count()).select_from(SessionRow)),
            "messages": _count(connection, select(func.count()).select_from(MessageRow)),
            "feedback": _count(connection, select(func.count()).select_from(FeedbackRow)),
        }
        growth = {f"{days}d": _growth(connection, now - timedelta(days=days)) for days in WINDOWS}
    database = database_size(settings, engine)
    index = index_size(settings)
    uploads_dir = settings.data_dir / "uploads"
    uploads = {"path": str(uploads_dir), "bytes": tree_bytes(uploads_dir)}
    return {
        "counts": counts,
        "database": database,
        "index": index,
        "uploads": uploads,
        "growth": growth,
        "headroom": _headroom(settings, counts, growth["30d"], database, index, uploads),
    }


def _count(connection: Any, query: Any) -> int:
    return int(connection.scalar(query) or 0)


def _growth(connection: Any, since: datetime) -> dict[str, int]:
    new_documents = select(DocumentRow.id).where(DocumentRow.created_at >= since)
    return {
        "documents": _count(
            connection, select(func.count()).where(DocumentRow.created_at >= since)
        ),
        "passages": _count(
            connection,
            select(func.count()).where(ChunkRow.document_id.in_(new_documents)),
        ),
        "sessions": _count(connection, select(func.count()).where(SessionRow.created_at >= since)),
        "messages": _count(connection, select(func.count()).where(MessageRow.created_at >= since)),
    }


def database_size(settings: Settings, engine: Engine) -> dict[str, Any]:
    """Bytes of the whole database and of each of our tables (when the backend tells)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            total = connection.scalar(text("SELECT pg_database_size(current_database())"))
            tables = {
                name: int(
                    connection.scalar(text("SELECT pg_total_relation_size(:t)"), {"t": name}) or 0
                )
                for name in (*_CONTENT_TABLES, *_CONVERSATION_TABLES)
            }
        return {"backend": "postgresql", "bytes": int(total or 0), "tables": tables}
    path = Path(engine.url.database or "")
    # The -shm file is an index of the WAL kept in shared memory, not data.
    files = [path, Path(f"{path}-wal")]
    size = sum(f.stat().st_size for f in files if f.is_file())
    return {
        "backend": "sqlite",
        "path": str(path),
        "bytes": size,
        "tables": _sqlite_tables(engine),
    }


def _sqlite_tables(engine: Engine) -> dict[str, int] | None:
    """Pages of each table and its indexes, from SQLite's ``dbstat`` (None where not built in)."""
    query = text(
        "SELECT COALESCE(m.tbl_name, s.name) AS owner, SUM(s.pgsize) AS bytes "
        "FROM dbstat AS s LEFT JOIN sqlite_master AS m ON m.name = s.name GROUP BY owner"
    )
    try:
        with engine.connect() as connection:
            sizes = {str(row.owner): int(row.bytes) for row in connection.execute(query)}
    except SQLAlchemyError:
        return None
    return {name: sizes.get(name, 0) for name in (*_CONTENT_TABLES, *_CONVERSATION_TABLES)}


def index_size(settings: Settings) -> dict[str, Any]:
    """The embedded index's folder size, or what the Qdrant server says of the collection."""
    from rag_chatbot.container import embedding_identity

    name = collection_name(embedding_identity(settings)[0])
    if not settings.qdrant_url:
        folder = settings.data_dir / "qdrant"
        return {
            "kind": "embedded",
            "path": str(folder),
            "collection": name,
            "bytes": tree_bytes(folder),
        }
    from qdrant_client import QdrantClient

    try:
        client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key, timeout=10)
        info = client.get_collection(name)
        client.close()
    except Exception as exc:  # the client raises several unrelated types for a dead server
        return {"kind": "server", "collection": name, "error": f"{type(exc).__name__}: {exc}"}
    return {
        "kind": "server",
        "collection": name,
        "points": info.points_count,
        "segments": info.segments_count,
        "status": str(info.status.value if hasattr(info.status, "value") else info.status),
        "bytes": None,  # the server's storage is on its own volume; it does not report a size
    }


def tree_bytes(path: Path) -> int:
    """Disk space the files under ``path`` take, as ``du`` counts it (0 when it is missing).

    Allocated blocks rather than file lengths: the index preallocates sparse files (a new
    shard's write-ahead log is 32 MiB long but nearly empty on disk).
    """
    if not path.exists():
        return 0
    files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
    return sum(_allocated(f) for f in files if not f.is_symlink())


def _allocated(path: Path) -> int:
    stat = path.stat()
    blocks = getattr(stat, "st_blocks", None)
    return stat.st_size if blocks is None else blocks * 512


def _headroom(
    settings: Settings,
    counts: dict[str, int],
    month: dict[str, int],
    database: dict[str, Any],
    index: dict[str, Any],
    uploads: dict[str, Any],
) -> dict[str, Any]:
    tables = database.get("tables") or {}
    if tables:
        content_db = sum(tables.get(t, 0) for t in _CONTENT_TABLES)
        conversation_db = sum(tables.get(t, 0) for t in _CONVERSATION_TABLES)
    else:  # no per-table sizes: the whole file counts as document data
        content_db, conversation_db = int(database["bytes"]), 0
    content_files = int(index.get("bytes") or 0) + int(uploads["bytes"])
    per_passage_files = content_files / counts["passages"] if counts["passages"] else 0.0
    per_passage_db = content_db / counts["passages"] if counts["passages"] else 0.0
    per_message_db = conversation_db / counts["messages"] if counts["messages"] else 0.0
    daily_files = month["passages"] * per_passage_files / 30
    daily_db = (month["passages"] * per_passage_db + month["messages"] * per_message_db) / 30
    on_data_volume = database["backend"] == "sqlite"
    daily = daily_files + (daily_db if on_data_volume else 0.0)
    volume = _existing(settings.data_dir)
    usage = shutil.disk_usage(volume)
    result: dict[str, Any] = {
        "volume": str(volume),
        "total_bytes": usage.total,
        "free_bytes": usage.free,
        "used_percent": round(100 * (usage.total - usage.free) / usage.total, 1),
        "daily_growth_bytes": round(daily),
        "days": round(usage.free / daily) if daily > 0 else None,
    }
    if not on_data_volume:
        result["database_daily_growth_bytes"] = round(daily_db)
    return result


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing parent: the volume it is (or will be) on."""
    path = path.resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
