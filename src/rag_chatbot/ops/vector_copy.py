"""The vector index in a full backup: a checked copy of the embedded shard, or a server snapshot.

Embedded index (Qdrant Edge, ``DATA_DIR/qdrant/<collection>``). A shard opens in one process
at a time, so a running ``serve`` keeps us out; what is safe:

- service stopped: we open the shard (taking its lock, so nothing writes meanwhile) and copy
  the folder;
- service running: the folder is copied as it is. Its write-ahead log is a shared memory map
  whose writes are in the page cache a copy reads, and segments are replaced, not rewritten,
  so a copy normally loads; but an optimisation or an ingest during the copy could still
  tear it. So every copy is *checked*: it is opened (which replays its log) and must hold
  exactly the passages of the database snapshot in ``rag-chatbot-backup.tar.gz``. A copy
  that fails is taken again (three tries); after that the index is left out of the backup
  and the manifest says why — restore re-embeds the passages in any case.

Qdrant server (QDRANT_URL): the collection's snapshot API (create, download, delete).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Set
from pathlib import Path
from typing import Any

import httpx

from rag_chatbot.errors import ProviderError, ProviderUnavailable
from rag_chatbot.providers.vector_stores.base import VectorStore

ATTEMPTS = 3


def copy_embedded_index(
    source: Path, target: Path, dimension: int, passages: Set[str]
) -> tuple[dict[str, Any], VectorStore | None]:
    """Copy the shard at ``source`` to ``target``; return its manifest entry and the copy, open.

    ``passages`` are the chunk ids the copy must hold. The copy is returned open (the caller
    answers questions with it, then closes it); ``None`` when it was left out.
    """
    from rag_chatbot.providers.vector_stores.qdrant_edge import QdrantEdgeStore

    if not source.is_dir() or not any(source.iterdir()):
        return {"included": False, "reason": f"no embedded index at {source}"}, None
    try:
        held: QdrantEdgeStore | None = QdrantEdgeStore(source, dimension)
        method = "copied while holding the index's lock (no service running)"
    except ProviderUnavailable:
        held = None
        method = "copied while the service ran, then checked against the database's passages"
    problem = ""
    try:
        for attempt in range(ATTEMPTS):
            shutil.rmtree(target, ignore_errors=True)
            try:
                # A file that vanishes meanwhile (a segment replaced) fails this try.
                shutil.copytree(source, target)
                copy = QdrantEdgeStore(target, dimension, flush_writes=False)
            except (OSError, ProviderError) as exc:
                problem = f"the copy failed or does not open ({exc})"
            else:
                found = copy.ids()
                if found == passages:
                    entry = {"included": True, "method": method, "points": len(found)}
                    return {**entry, "attempts": attempt + 1}, copy
                copy.close()
                problem = (
                    f"the copy holds {len(found)} points, {len(found - passages)} of them not "
                    f"in the database, which lists {len(passages)} passages "
                    f"({len(passages - found)} missing)"
                )
            time.sleep(1 + attempt)
    finally:
        if held is not None:
            held.close()
    shutil.rmtree(target, ignore_errors=True)
    return {"included": False, "reason": f"{problem} after {ATTEMPTS} tries"}, None


def snapshot_server_collection(
    url: str, api_key: str | None, collection: str, target_dir: Path
) -> dict[str, Any]:
    """Download a fresh snapshot of ``collection`` from the Qdrant server at ``url``.

    Creates it (``POST /collections/{c}/snapshots?wait=true``), streams it to
    ``target_dir/<collection>.snapshot`` and deletes it on the server again. Raises
    ``ProviderUnavailable`` when the server cannot be reached or refuses.
    """
    headers = {"api-key": api_key} if api_key else {}
    base = f"{url.rstrip('/')}/collections/{collection}"
    target = target_dir / f"{collection}.snapshot"
    target_dir.mkdir(parents=True, exist_ok=True)
    try:
        with httpx.Client(headers=headers, timeout=httpx.Timeout(30, read=600)) as client:
            info = client.get(base)
            info.raise_for_status()
            points = info.json().get("result", {}).get("points_count")
            made = client.post(f"{base}/snapshots", params={"wait": "true"})
            made.raise_for_status()
            name = made.json()["result"]["name"]
            try:
                with (
                    client.stream("GET", f"{base}/snapshots/{name}") as download,
                    target.open("wb") as out,
                ):
                    download.raise_for_status()
                    for block in download.iter_bytes(1 << 20):
                        out.write(block)
            finally:
                client.delete(f"{base}/snapshots/{name}", params={"wait": "true"})
    except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
        target.unlink(missing_ok=True)
        raise ProviderUnavailable(f"Qdrant snapshot of {collection} failed: {exc}") from exc
    return {
        "included": True,
        "method": "Qdrant server snapshot API",
        "points": points,
        "snapshot": target.name,
    }
