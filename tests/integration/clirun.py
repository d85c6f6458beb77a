"""Running the real command line in a subprocess, as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def cli(
    *args: str, data_dir: Path, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """``rag-chatbot ARGS`` on ``data_dir``, with ``env`` added to a clean environment."""
    return subprocess.run(
        [sys.executable, "-m", "rag_chatbot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env={**clean_environment(), "DATA_DIR": str(data_dir), **env},
    )


def clean_environment() -> dict[str, str]:
    """The shell's environment without the settings tests choose themselves."""
    return {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "QDRANT_URL"}}
