"""A real deployment for the operations tests: the fixture corpus indexed, a server on it.

``deployment`` ingests the corpus into a fresh ``DATA_DIR`` (SQLite, or the PostgreSQL
database given) and returns the environment of that deployment; ``serving`` runs a real
``rag-chatbot serve`` on it. ``script`` runs one of scripts/*.sh with that environment.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from servers import ingest, start_server, stop
from testing_secrets import TEST_ADMIN_TOKEN, TEST_JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
QUESTION = "When does the fog horn sound?"


def deployment(root: Path, corpus: Path, database_url: str | None = None) -> dict[str, str]:
    """The environment of a deployment in ``root`` holding ``corpus`` (already ingested)."""
    env = {
        "DATA_DIR": str(root / "data"),
        "LOG_DIR": str(root / "logs"),
        "BACKUP_DIR": str(root / "backups"),
        "ENVIRONMENT": "test",
        "JWT_SECRET_KEY": TEST_JWT_SECRET,
        "ADMIN_TOKEN": TEST_ADMIN_TOKEN,
        "SESSION_RETENTION_DAYS": "0",
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    ingest(corpus, {**os.environ, **env})
    return env


@contextmanager
def serving(root: Path, env: dict[str, str]) -> Iterator[str]:
    """A real server on the deployment; its base URL."""
    process, base = start_server(root, env)
    try:
        yield base
    finally:
        stop(process)


def script(
    name: str, *args: str, env: dict[str, str], cwd: Path = ROOT, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    """Run scripts/NAME (or ``./deploy.sh``) with the deployment's environment."""
    path = ROOT / name if name == "deploy.sh" else SCRIPTS / name
    return subprocess.run(
        [str(path), *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cli(
    *args: str, env: dict[str, str], stdin: str | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    """``rag-chatbot ARGS`` in a process of its own, with the deployment's environment."""
    return subprocess.run(
        ["rag-chatbot", *args],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
