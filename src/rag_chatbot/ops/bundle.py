"""The full-backup archive (``scripts/full-backup.sh``): its layout, checksums, packing.

Layout of ``full-backup_YYYYmmdd_HHMMSS.tar.gz`` (format version 1), every name relative::

    manifest.json                what is inside, counts, the fixed questions and their answers
    SHA256SUMS                   ``sha256sum -c`` format, one line for every other file
    rag-chatbot-backup.tar.gz    ``rag-chatbot backup``: every table's rows, uploads, settings
    database.sql                 the native dump (``scripts/backup-db.sh``, plain SQL)
    vector-index/...             the embedded index (``qdrant/<collection>/``, a copy of the
                                 shard) or a Qdrant server's snapshot (``<collection>.snapshot``)
    config/...                   .env, .env.prod, secrets/*.env as found (secrets: mode 600)

The archive is written under a temporary name beside the target and renamed when complete,
with mode 600: it holds conversations and configuration secrets.
"""

from __future__ import annotations

import json
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from rag_chatbot.errors import InvalidInput
from rag_chatbot.ops.archive import safe_relative, sha256_of

FORMAT = "rag-chatbot-full-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
APP_BACKUP = "rag-chatbot-backup.tar.gz"
DATABASE_DUMP = "database.sql"
VECTOR_DIR = "vector-index"
CONFIG_DIR = "config"


def files_under(root: Path) -> list[str]:
    """Every regular file below ``root``, as sorted POSIX paths relative to it."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def write_sums(root: Path) -> Path:
    """Write ``SHA256SUMS`` for every file below ``root`` (itself excepted)."""
    lines = [f"{sha256_of(root / name)}  {name}\n" for name in files_under(root) if name != SUMS]
    target = root / SUMS
    target.write_text("".join(lines), encoding="utf-8")
    return target


def verify_sums(root: Path) -> list[str]:
    """Problems found (``[]``: every file matches and none is missing or unlisted)."""
    sums = root / SUMS
    if not sums.is_file():
        return [f"{SUMS} is missing"]
    listed: dict[str, str] = {}
    for number, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), start=1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            return [f"{SUMS} line {number} is not '<sha256>  <file>'"]
        listed[name] = digest
    problems = []
    for name, digest in listed.items():
        path = root / safe_relative(name)
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif sha256_of(path) != digest:
            problems.append(f"{name} does not match its checksum")
    unlisted = set(files_under(root)) - set(listed) - {SUMS}
    problems.extend(f"{name} is not in {SUMS}" for name in sorted(unlisted))
    return problems


def pack(root: Path, target: Path) -> int:
    """Write every file below ``root`` to the gzip tar ``target`` atomically; return its size."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    partial = Path(partial_name)
    try:
        with os.fdopen(handle, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for name in files_under(root):
                tar.add(root / name, arcname=name, recursive=False)
        partial.chmod(0o600)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target.stat().st_size


def unpack(archive: Path, root: Path) -> None:
    """Extract ``archive`` into ``root``; ``InvalidInput`` when it is not a readable tar."""
    if not archive.is_file():
        raise InvalidInput(f"{archive}: no such file")
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            tar.extractall(root, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InvalidInput(f"{archive} cannot be read as a full backup ({exc})") from exc


def read_manifest(root: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{MANIFEST} cannot be read ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidInput(f"{MANIFEST} is not a rag-chatbot full-backup manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InvalidInput(
            f"full-backup format {manifest.get('format_version')!r}; "
            f"this version reads {FORMAT_VERSION}"
        )
    return manifest
