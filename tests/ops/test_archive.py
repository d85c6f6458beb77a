"""The backup archive refuses what it cannot trust, before anything is written.

Archives here come from a real (empty, migrated) SQLite deployment, then are altered: a
changed byte, a foreign file, a newer format or schema, a path escaping the uploads folder.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from testing_secrets import TEST_JWT_SECRET

from rag_chatbot.config import Settings
from rag_chatbot.db.migrate import upgrade_to_head
from rag_chatbot.errors import InvalidInput
from rag_chatbot.ops.archive import open_archive, safe_relative
from rag_chatbot.ops.backup import create_backup
from rag_chatbot.ops.restore import restore_backup
from rag_chatbot.providers.embedders.hashing import HashingEmbedder


def _settings(data_dir: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        data_dir=data_dir, environment="test", jwt_secret_key=TEST_JWT_SECRET
    )


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    settings = _settings(tmp_path / "source")
    upgrade_to_head(settings.resolved_database_url)
    uploads = settings.data_dir / "uploads"
    uploads.mkdir(parents=True)
    (uploads / "notes.txt").write_text("kept\n")
    target = tmp_path / "backup.tar.gz"
    create_backup(settings, target)
    return target


def _rewrite(source: Path, target: Path, change: dict[str, bytes]) -> Path:
    """Copy the archive ``source`` to ``target`` with some members' bytes replaced or added."""
    with tarfile.open(source) as old, tarfile.open(target, "w:gz") as new:
        names = old.getnames()
        for member in old.getmembers():
            data = change.get(member.name)
            if data is None:
                stream = old.extractfile(member)
                data = stream.read() if stream else b""
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            new.addfile(info, io.BytesIO(data))
        for name, data in change.items():
            if name not in names:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                new.addfile(info, io.BytesIO(data))
    return target


def _manifest(path: Path) -> dict[str, object]:
    with open_archive(path) as reader:
        return reader.manifest


def _restore(path: Path, data_dir: Path) -> None:
    restore_backup(_settings(data_dir), path, embedder=HashingEmbedder())


def test_the_manifest_describes_the_deployment_without_secrets(archive: Path) -> None:
    manifest = _manifest(archive)
    settings = manifest["settings"]
    assert isinstance(settings, dict)
    # The default precision, int8, names the model and its collection.
    assert settings["embedding_model"] == "all-MiniLM-L6-v2-int8"
    assert settings["collection"] == "chunks__all-minilm-l6-v2-int8"
    assert {"chunker_version", "chunk_max_tokens", "embedding_dimension"} <= set(settings)
    assert {t["name"] for t in manifest["tables"]} >= {  # type: ignore[union-attr]
        "documents",
        "chunks",
        "sessions",
        "messages",
        "feedback",
    }
    text = json.dumps(manifest)
    assert TEST_JWT_SECRET not in text and "jwt" not in text.lower()
    assert archive.stat().st_mode & 0o077 == 0  # users' conversations: owner only


def test_a_changed_byte_is_caught_before_restoring(archive: Path, tmp_path: Path) -> None:
    with tarfile.open(archive) as tar:
        stream = tar.extractfile("uploads/notes.txt")
        assert stream is not None and stream.read() == b"kept\n"
    damaged = _rewrite(archive, tmp_path / "damaged.tar.gz", {"uploads/notes.txt": b"kepT\n"})

    with pytest.raises(InvalidInput, match=r"uploads/notes\.txt is corrupt"):
        _restore(damaged, tmp_path / "target")

    assert not (tmp_path / "target" / "rag-chatbot.db").exists()


def test_a_file_that_is_no_backup_is_refused(tmp_path: Path) -> None:
    not_tar = tmp_path / "notes.tar.gz"
    not_tar.write_text("just text")
    with pytest.raises(InvalidInput, match="not a rag-chatbot backup"):
        _restore(not_tar, tmp_path / "target")
    with pytest.raises(InvalidInput, match="no such backup file"):
        _restore(tmp_path / "missing.tar.gz", tmp_path / "target")
    foreign = tmp_path / "foreign.tar.gz"
    with tarfile.open(foreign, "w:gz") as tar:
        info = tarfile.TarInfo("manifest.json")
        body = b'{"format": "something-else"}'
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    with pytest.raises(InvalidInput, match="is not a rag-chatbot backup"):
        _restore(foreign, tmp_path / "target")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("format_version", 99, "backup format 99"),
        ("database", {"backend": "sqlite", "revision": "9999_future"}, "made by a newer one"),
    ],
)
def test_newer_archives_are_refused(
    archive: Path, tmp_path: Path, field: str, value: object, message: str
) -> None:
    manifest = {**_manifest(archive), field: value}
    newer = _rewrite(
        archive, tmp_path / "newer.tar.gz", {"manifest.json": json.dumps(manifest).encode()}
    )
    with pytest.raises(InvalidInput, match=message):
        _restore(newer, tmp_path / "target")


def test_upload_paths_cannot_escape_the_uploads_folder(archive: Path, tmp_path: Path) -> None:
    manifest = _manifest(archive)
    manifest["uploads"] = [{"path": "../../evil.sh", "bytes": 3, "sha256": "0" * 64}]
    evil = _rewrite(
        archive, tmp_path / "evil.tar.gz", {"manifest.json": json.dumps(manifest).encode()}
    )
    with pytest.raises(InvalidInput, match="unsafe file name"):
        _restore(evil, tmp_path / "target")
    for bad in ("/etc/passwd", "a/../../b", "", ".."):
        with pytest.raises(InvalidInput):
            safe_relative(bad)
    assert str(safe_relative("books/one.md")) == "books/one.md"


def test_a_database_never_set_up_has_nothing_to_back_up(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="nothing to back up"):
        create_backup(_settings(tmp_path / "empty"), tmp_path / "out.tar.gz")
    assert not (tmp_path / "out.tar.gz").exists()


@pytest.mark.slow
def test_the_cli_reports_refusals_with_exit_status_1(archive: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "target"),
        "ENVIRONMENT": "test",
        "JWT_SECRET_KEY": TEST_JWT_SECRET,
    }
    missing = subprocess.run(
        [sys.executable, "-m", "rag_chatbot", "restore", str(tmp_path / "nope.tar.gz")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1
    assert "no such backup file" in missing.stderr

    written = subprocess.run(
        [sys.executable, "-m", "rag_chatbot", "backup", str(tmp_path / "cli.tar.gz"), "--json"],
        env={**env, "DATA_DIR": str(archive.parent / "source")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert written.returncode == 0, written.stderr
    assert json.loads(written.stdout)["tables"]["documents"] == 0
