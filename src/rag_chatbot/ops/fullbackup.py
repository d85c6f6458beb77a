"""Assemble a full backup (``scripts/full-backup.sh``) from the parts the script has made.

The script writes ``rag-chatbot-backup.tar.gz`` (``rag-chatbot backup``) and ``database.sql``
(``backup-db.sh``) into a staging folder, then runs
``python3 -m rag_chatbot.ops.fullbackup STAGE ARCHIVE``, which adds

- the vector index (``ops.vector_copy``: a checked copy of the embedded shard, or a Qdrant
  server snapshot),
- the configuration files found in ``--config-dir`` (flagged secret in the manifest),
- ``manifest.json``: the counts of the database snapshot (every table; documents, passages,
  sessions, messages and users by name), the fixed questions and the answers this deployment
  gives them now (``ops.questions``), versions and what each part is,
- ``SHA256SUMS``,

and packs it all into ``ARCHIVE`` (``ops.bundle``). The answers are computed in this process
against the live database and the *copy* of the index (the service keeps the original open),
with the response cache off; nothing is written to the deployment.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag_chatbot import __version__
from rag_chatbot.config import Settings, load_settings
from rag_chatbot.container import build_container, embedding_identity
from rag_chatbot.db.migrate import head_revision
from rag_chatbot.errors import RagChatbotError
from rag_chatbot.ops import bundle
from rag_chatbot.ops.archive import ArchiveReader, open_archive
from rag_chatbot.ops.questions import DEFAULT_COUNT, answer_record, choose_questions
from rag_chatbot.ops.vector_copy import copy_embedded_index, snapshot_server_collection
from rag_chatbot.providers.vector_stores.base import VectorStore
from rag_chatbot.providers.vector_stores.payload import collection_name

# Named in the manifest's "counts"; "tables" has every table.
COUNTED = {
    "documents": "documents",
    "passages": "chunks",
    "sessions": "sessions",
    "messages": "messages",
    "users": "users",
}
CONFIG_FILES = (".env", ".env.prod", ".env.production", "secrets/*.env")
log = logging.getLogger(__name__)


def rows_of(archive: ArchiveReader, table: str) -> Iterator[dict[str, Any]]:
    """The rows of one table of a ``rag-chatbot backup`` archive (none if it has no such table)."""
    if not any(t["name"] == table for t in archive.manifest.get("tables", [])):
        return
    for line in archive.table(table):
        if line.strip():
            yield json.loads(line)


def collect(
    settings: Settings,
    stage: Path,
    *,
    config_dir: Path,
    questions_file: Path | None = None,
    question_count: int = DEFAULT_COUNT,
) -> dict[str, Any]:
    """Add index, configuration, manifest and checksums to ``stage``; return the manifest."""
    with open_archive(stage / bundle.APP_BACKUP) as archive:
        inner = archive.manifest
        tables = {t["name"]: t["rows"] for t in inner["tables"]}
        passages = {str(row["id"]) for row in rows_of(archive, "chunks")}
        questions, chosen_by = choose_questions(
            questions_file,
            rows_of(archive, "messages"),
            rows_of(archive, "documents"),
            question_count,
        )
    revision = inner["database"]["revision"]
    vectors, store = _vector_index(settings, stage, passages)
    try:
        answers, not_answered = _answers(settings, store, vectors, revision, questions)
    finally:
        if store is not None:
            store.close()
    manifest = {
        "format": bundle.FORMAT,
        "format_version": bundle.FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(),
        "app_version": __version__,
        "database": {
            "kind": inner["database"]["backend"],
            "revision": revision,
            "dump": bundle.DATABASE_DUMP,
            "dump_format": "plain SQL",
        },
        "app_backup": bundle.APP_BACKUP,
        "counts": {name: tables.get(table, 0) for name, table in COUNTED.items()},
        "tables": tables,
        "uploads": len(inner.get("uploads", [])),
        "vector_index": vectors,
        "config": _copy_config(config_dir, stage / bundle.CONFIG_DIR),
        "questions": {
            "chosen_by": chosen_by,
            "generator": settings.llm_provider,
            "compare_text": settings.llm_provider == "extractive",
            "answers": answers,
            "not_answered": not_answered,
        },
    }
    (stage / bundle.MANIFEST).write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    bundle.write_sums(stage)
    return manifest


def _vector_index(
    settings: Settings, stage: Path, passages: set[str]
) -> tuple[dict[str, Any], VectorStore | None]:
    model, dimension = embedding_identity(settings)
    collection = collection_name(model)
    where = stage / bundle.VECTOR_DIR
    if settings.qdrant_url:
        entry = snapshot_server_collection(
            settings.qdrant_url, settings.qdrant_api_key, collection, where
        )
        entry["path"] = f"{bundle.VECTOR_DIR}/{entry['snapshot']}"
        return {"kind": "qdrant-server", "collection": collection, **entry}, None
    source = settings.data_dir / "qdrant" / collection
    entry, store = copy_embedded_index(source, where / "qdrant" / collection, dimension, passages)
    if entry["included"]:
        entry["path"] = f"{bundle.VECTOR_DIR}/qdrant/{collection}"
    return {"kind": "embedded", "collection": collection, "dimension": dimension, **entry}, store


def _answers(
    settings: Settings,
    store: VectorStore | None,
    vectors: dict[str, Any],
    revision: str,
    questions: list[str],
) -> tuple[list[dict[str, Any]], str | None]:
    """The answers to ``questions`` now, or why they could not be had."""
    if not questions:
        return [], None
    if not vectors["included"]:
        return [], f"the vector index is not in this backup ({vectors['reason']})"
    if revision != head_revision():
        # Building the answerer migrates to this code's schema: never on a live database.
        return [], f"the database is at revision {revision}, this code at {head_revision()}"
    quiet = settings.model_copy(update={"redis_url": None, "enable_response_cache": False})
    container = build_container(quiet, store=store)
    try:
        return [answer_record(q, container.answerer.ask(q)) for q in questions], None
    finally:
        container.engine.dispose()  # the store is the caller's to close


def _copy_config(config_dir: Path, target: Path) -> list[dict[str, Any]]:
    """Copy the deployment's environment files; all are secrets (keys, passwords, URLs)."""
    found: list[dict[str, Any]] = []
    for pattern in CONFIG_FILES:
        for path in sorted(config_dir.glob(pattern)):
            if not path.is_file():
                continue
            relative = path.relative_to(config_dir).as_posix()
            copy = target / relative
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)
            copy.chmod(0o600)
            found.append(
                {
                    "path": f"{bundle.CONFIG_DIR}/{relative}",
                    "from": str(path.resolve()),
                    "secret": True,
                    "bytes": path.stat().st_size,
                }
            )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m rag_chatbot.ops.fullbackup")
    parser.add_argument("stage", type=Path)
    parser.add_argument("archive", type=Path)
    parser.add_argument("--config-dir", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    questions = os.environ.get("DR_QUESTIONS") or None
    count = os.environ.get("DR_QUESTION_COUNT", str(DEFAULT_COUNT))
    if not count.isdigit() or int(count) < 1:
        print("DR_QUESTION_COUNT must be a positive number", file=sys.stderr)
        return 2
    try:
        manifest = collect(
            load_settings(),
            args.stage,
            config_dir=args.config_dir,
            questions_file=Path(questions) if questions else None,
            question_count=int(count),
        )
        size = bundle.pack(args.stage, args.archive)
    except (RagChatbotError, OSError) as exc:
        print(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, file=sys.stderr)
        return 1
    counts = ", ".join(f"{k} {v}" for k, v in manifest["counts"].items())
    vectors = manifest["vector_index"]
    index = f"{vectors.get('points')} points" if vectors["included"] else "not included"
    print(
        f"wrote {args.archive} ({size} bytes): {counts}; vector index {index}; "
        f"{len(manifest['questions']['answers'])} fixed questions answered"
    )
    if not vectors["included"]:
        print(f"warning: vector index left out: {vectors['reason']}", file=sys.stderr)
    if manifest["questions"]["not_answered"]:
        print(f"warning: {manifest['questions']['not_answered']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
