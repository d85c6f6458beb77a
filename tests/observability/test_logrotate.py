"""deploy/logrotate/rag-chatbot, run by the real logrotate while a real server writes its logs.

The shipped file is used as it is, but for its path: ``/var/log/rag-chatbot`` becomes the
server's ``LOG_DIR``. ``logrotate -f -s STATE`` rotates twice; after each rotation the next
request's lines must land in the new ``app.log`` and ``access.log`` (no copytruncate: the
server reopens them), and the copy before the last is compressed (``delaycompress``).
"""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from testing_secrets import TEST_ADMIN_TOKEN, TEST_JWT_SECRET

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deploy" / "logrotate" / "rag-chatbot"


def _logrotate() -> str:
    found = shutil.which("logrotate") or shutil.which("logrotate", path="/usr/sbin:/sbin")
    if found is None:
        pytest.skip("logrotate is not installed: apt-get install -y logrotate")
    return found


def test_the_shipped_file_says_what_the_runbook_relies_on() -> None:
    text = SHIPPED.read_text()
    directives = {line.split()[0] for line in text.splitlines() if line.startswith("    ")}
    assert "/var/log/rag-chatbot/*.log {" in text
    assert {"daily", "rotate", "compress", "delaycompress", "missingok", "notifempty"} <= (
        directives
    )
    assert re.search(r"^\s+rotate 14$", text, re.M)
    # The server reopens its files; copying and truncating would lose lines. Numbered copies
    # (app.log.1) are what the runbook's `find -name "*.log.*"` clean-up finds.
    assert not directives & {"copytruncate", "dateext", "postrotate"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    from servers import start_server, stop

    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_DIR": str(tmp_path / "logs"),
        "LOG_FORMAT": "text",
        "ENVIRONMENT": "test",
        "JWT_SECRET_KEY": TEST_JWT_SECRET,
        "ADMIN_TOKEN": TEST_ADMIN_TOKEN,
    }
    process, base = start_server(tmp_path, env)
    try:
        yield base, tmp_path / "logs"
    finally:
        stop(process)


def test_logrotate_rotates_while_the_server_keeps_writing(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    logrotate = _logrotate()
    base, logs = server
    config = tmp_path / "logrotate.conf"
    config.write_text(SHIPPED.read_text().replace("/var/log/rag-chatbot", str(logs)))
    config.chmod(0o644)  # logrotate ignores a configuration others may write

    def ids(path: Path) -> list[str]:
        """The request ids of a log's per-request lines."""
        if not path.exists():
            return []
        text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else None
        pattern = r"request_id=(\w+)$" if path.name.startswith("app.") else r" (\w+)$"
        return re.findall(pattern, text or path.read_text(), re.M)

    def request(request_id: str) -> None:
        response = httpx.get(f"{base}/api/health", headers={"X-Request-ID": request_id}, timeout=10)
        assert response.status_code == 200
        # The lines are written once the response has gone: wait for them before rotating.
        deadline = time.monotonic() + 10
        while not all(request_id in ids(logs / name) for name in ("app.log", "access.log")):
            assert time.monotonic() < deadline, f"no log lines for {request_id}"
            time.sleep(0.05)

    def rotate() -> None:
        ran = subprocess.run(
            [logrotate, "-f", "-s", str(tmp_path / "state"), str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ran.returncode == 0, ran.stderr

    request("first")
    rotate()
    assert not (logs / "app.log").exists()  # renamed, not copied: the server makes the next
    request("second")
    rotate()
    request("third")

    for name in ("app.log", "access.log"):
        oldest, previous, current = (ids(logs / f) for f in (f"{name}.2.gz", f"{name}.1", name))
        assert (oldest[-1], previous, current) == ("first", ["second"], ["third"]), name
