"""The backup file: one gzip-compressed tar archive with a manifest, checked on the way back.

Layout (format version 1)::

    manifest.json           what the archive holds (below), written first
    tables/<name>.jsonl     one JSON object a row (``ops.tables``)
    uploads/<file>          the uploaded originals kept in DATA_DIR/uploads

The manifest records ``format``, ``format_version``, ``created_at``, ``app_version``, the
database's ``backend`` and Alembic ``revision``, the ``settings`` fingerprint (embedding
model, dimension, chunker version and window, collection, the documents' fingerprints — never
a secret), each table's ``rows``, column kinds and SHA-256, and each upload's SHA-256.
``ArchiveReader.verify`` checks every member against it before anything is restored.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any

from rag_chatbot.errors import InvalidInput

FORMAT = "rag-chatbot-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_archive(
    target: Path, manifest: dict[str, Any], members: Sequence[tuple[str, Path]]
) -> int:
    """Write ``manifest`` and ``members`` (archive name, file) to ``target``; return its size.

    Atomic: written to a temporary file beside ``target`` and renamed, so an interrupted
    backup never leaves a truncated archive under the name an operator will restore from.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    partial = Path(partial_name)
    try:
        with os.fdopen(handle, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            body = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(body)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(body))
            for name, path in members:
                tar.add(path, arcname=name, recursive=False)
        partial.chmod(0o600)  # sessions and messages are users' data
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target.stat().st_size


class ArchiveReader:
    """Reads a backup written by ``write_archive``; every problem is an ``InvalidInput``."""

    def __init__(self, tar: tarfile.TarFile, path: Path) -> None:
        self._tar = tar
        self._path = path
        self.manifest = self._read_manifest()

    def _read_manifest(self) -> dict[str, Any]:
        try:
            raw = self._member(MANIFEST).read()
            manifest = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{self._path}: manifest.json is not valid JSON") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise InvalidInput(f"{self._path} is not a rag-chatbot backup")
        version = manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise InvalidInput(
                f"{self._path}: backup format {version!r}; this version reads {FORMAT_VERSION}"
            )
        return manifest

    def _member(self, name: str) -> IO[bytes]:
        try:
            stream = self._tar.extractfile(name)
        except KeyError:
            stream = None
        if stream is None:
            raise InvalidInput(f"{self._path}: {name} is missing from the backup")
        return stream

    def table(self, name: str) -> IO[bytes]:
        return self._member(f"tables/{name}.jsonl")

    def upload(self, relative: str) -> IO[bytes]:
        return self._member(f"uploads/{relative}")

    def verify(self) -> None:
        """Check every table and upload against the manifest's SHA-256 (and names' safety)."""
        for table in self.manifest.get("tables", []):
            self._check(f"tables/{table['name']}.jsonl", table["sha256"])
        for upload in self.manifest.get("uploads", []):
            safe_relative(upload["path"])
            self._check(f"uploads/{upload['path']}", upload["sha256"])

    def _check(self, name: str, expected: str) -> None:
        digest = hashlib.sha256()
        stream = self._member(name)
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
        if digest.hexdigest() != expected:
            raise InvalidInput(f"{self._path}: {name} is corrupt (checksum mismatch)")


@contextmanager
def open_archive(path: Path) -> Iterator[ArchiveReader]:
    """Open the backup at ``path``; ``InvalidInput`` if it is missing or not a backup."""
    if not path.is_file():
        raise InvalidInput(f"{path}: no such backup file")
    try:
        tar = tarfile.open(path, mode="r:*")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, OSError) as exc:
        raise InvalidInput(f"{path} is not a rag-chatbot backup ({exc})") from exc
    with tar:
        try:
            yield ArchiveReader(tar, path)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise InvalidInput(f"{path}: the archive is damaged ({exc})") from exc


def safe_relative(name: str) -> PurePosixPath:
    """``name`` as a relative path that stays inside its directory, else ``InvalidInput``."""
    path = PurePosixPath(name)
    if path.is_absolute() or not path.parts or any(p in ("", ".", "..") for p in path.parts):
        raise InvalidInput(f"backup: unsafe file name {name!r}")
    return path
