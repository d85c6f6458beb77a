"""How a chunk is stored as a Qdrant point, shared by every Qdrant-backed store.

A point's id is the chunk id (a UUID string); its payload holds every other field of the chunk so
a search result rebuilds the whole ``Chunk`` without another lookup. Its vectors are named
``DENSE_VECTOR`` (cosine) and ``SPARSE_VECTOR`` (BM25 weights, IDF applied by the store).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from rag_chatbot.domain import Chunk
from rag_chatbot.errors import ConfigError, ProviderError

DENSE_VECTOR = "dense"
SPARSE_VECTOR = "lexical"

_COLLECTION_PREFIX = "chunks__"
_MAX_MODEL_PART = 64
_UNSAFE = re.compile(r"[^a-z0-9._-]+")


def chunk_to_payload(chunk: Chunk) -> dict[str, Any]:
    """The JSON payload of a chunk's point: every field but the id, ``section_path`` as a list."""
    return {
        "document_id": chunk.document_id,
        "source": chunk.source,
        "title": chunk.title,
        "section_path": list(chunk.section_path),
        "anchor": chunk.anchor,
        "position": chunk.position,
        "text": chunk.text,
        **({"page_url": chunk.page_url} if chunk.page_url else {}),
    }


def chunk_from_payload(point_id: str | int | UUID, payload: Mapping[str, Any] | None) -> Chunk:
    """Rebuild a chunk from its point id and payload.

    Raises ``ProviderError`` when the payload lacks a field or has one of the wrong type (a point
    written by something else, or by an incompatible version).
    """
    if payload is None:
        raise ProviderError(f"point {point_id} came back without its payload")
    try:
        section_path = payload["section_path"]
        if not isinstance(section_path, list | tuple):
            raise TypeError("section_path is not a list")
        return Chunk(
            id=str(point_id),
            document_id=str(payload["document_id"]),
            source=str(payload["source"]),
            title=str(payload["title"]),
            section_path=tuple(str(part) for part in section_path),
            anchor=str(payload["anchor"]),
            position=int(payload["position"]),
            text=str(payload["text"]),
            page_url=str(payload.get("page_url", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderError(f"point {point_id} has an unreadable chunk payload: {exc!r}") from exc


def collection_name(model_name: str) -> str:
    """The collection (or shard folder) name for vectors made by ``model_name``.

    Contract: deterministic; only ``[a-z0-9._-]``; at most 8 + 64 characters, long names keep a
    hash of the full name so they stay distinct. Different models get different names, so
    changing the embedding model starts a new index instead of mixing vectors.
    """
    cleaned = _UNSAFE.sub("-", model_name.strip().lower()).strip("-.")
    if not cleaned:
        raise ConfigError(f"embedding model name {model_name!r} gives no usable collection name")
    if len(cleaned) > _MAX_MODEL_PART:
        digest = hashlib.sha256(model_name.encode()).hexdigest()[:12]
        cleaned = f"{cleaned[: _MAX_MODEL_PART - 13]}-{digest}"
    return _COLLECTION_PREFIX + cleaned
