"""Weekly upkeep of the stores: the vector index compacted, the database vacuumed.

``compact_index``: the embedded index (Qdrant Edge) runs its segment optimizers until none is
planned: segments where many points were deleted or replaced (re-ingests, deleted documents)
are rewritten without them, small segments merged, HNSW built for large ones. The folder
must not be open elsewhere (a running ``serve`` holds it: ``ProviderUnavailable``). A Qdrant
server does this by itself in the background; for one, the collection's state is reported.

``vacuum_database``: PostgreSQL ``VACUUM ANALYZE``; SQLite ``VACUUM`` (rewrites the file
without free pages), ``ANALYZE`` and a WAL checkpoint that truncates the ``-wal`` file.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, text

from rag_chatbot.config import Settings
from rag_chatbot.db.engine import write_lock
from rag_chatbot.errors import ProviderUnavailable
from rag_chatbot.ops.capacity import database_size, tree_bytes
from rag_chatbot.providers.vector_stores.payload import collection_name


def compact_index(settings: Settings) -> dict[str, Any]:
    """Compact the configured index; what it did, as a JSON-ready dict."""
    from rag_chatbot.container import embedding_identity

    name, dimension = embedding_identity(settings)
    collection = collection_name(name)
    if settings.qdrant_url:
        return _server_state(settings, collection)
    from rag_chatbot.providers.vector_stores.qdrant_edge import QdrantEdgeStore

    folder = settings.data_dir / "qdrant" / collection
    if not folder.is_dir():
        return {"kind": "embedded", "path": str(folder), "note": "no index yet: nothing to do"}
    before = tree_bytes(folder)
    started = time.perf_counter()
    store = QdrantEdgeStore(folder, dimension)
    try:
        points = store.count()
        store.optimize()
    finally:
        store.close()
    return {
        "kind": "embedded",
        "path": str(folder),
        "points": points,
        "bytes_before": before,
        "bytes_after": tree_bytes(folder),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _server_state(settings: Settings, collection: str) -> dict[str, Any]:
    from qdrant_client import QdrantClient

    try:
        client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key, timeout=30)
        try:
            info = client.get_collection(collection)
        finally:
            client.close()
    except Exception as exc:  # the client raises several unrelated types for a dead server
        raise ProviderUnavailable(f"Qdrant at QDRANT_URL: {type(exc).__name__}: {exc}") from exc
    return {
        "kind": "server",
        "collection": collection,
        "points": info.points_count,
        "segments": info.segments_count,
        "status": _value(info.status),
        "optimizer": _value(info.optimizer_status),
        "note": "the Qdrant server compacts its segments itself, in the background",
    }


def _value(state: object) -> str:
    return str(getattr(state, "value", state))


def vacuum_database(settings: Settings, engine: Engine) -> dict[str, Any]:
    """Vacuum and analyze the database; its size before and after, and the time taken."""
    before = database_size(settings, engine)["bytes"]
    started = time.perf_counter()
    # VACUUM cannot run inside a transaction, on either backend.
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    if engine.dialect.name == "postgresql":
        with autocommit.connect() as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with write_lock(engine), autocommit.connect() as connection:
            connection.execute(text("VACUUM"))
            connection.execute(text("ANALYZE"))
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    return {
        "backend": engine.dialect.name,
        "bytes_before": before,
        "bytes_after": database_size(settings, engine)["bytes"],
        "seconds": round(time.perf_counter() - started, 2),
    }
