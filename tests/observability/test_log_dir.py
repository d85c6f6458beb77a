"""A LOG_DIR the service cannot write stops `serve` with one line that names it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from testing_secrets import TEST_JWT_SECRET


def test_an_unwritable_log_dir_is_named_in_one_line(tmp_path: Path) -> None:
    # A regular file where the directory should be: no directory can be made there, whoever
    # runs the test (a permission bit would not stop root).
    (tmp_path / "taken").write_text("not a directory")
    served = subprocess.run(
        [sys.executable, "-m", "rag_chatbot", "serve", "--port", "9"],
        env={
            **os.environ,
            "DATA_DIR": str(tmp_path / "data"),
            "LOG_DIR": str(tmp_path / "taken" / "logs"),
            "ENVIRONMENT": "test",
            "JWT_SECRET_KEY": TEST_JWT_SECRET,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert served.returncode == 2
    lines = served.stderr.strip().splitlines()
    assert len(lines) == 1, served.stderr
    assert "LOG_DIR: cannot write log files in" in lines[0] and "taken/logs" in lines[0]
    assert "Traceback" not in served.stderr
