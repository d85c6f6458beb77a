"""The compose files' PostgreSQL, run for real: their server options and init scripts.

No Docker engine runs here, so this starts a scratch PostgreSQL as the postgres image would:
``initdb`` with the superuser ``rag``, the server with the ``-c`` options of the compose
files' ``command``, then every script of deploy/postgres/initdb through ``psql`` in the
database ``rag``, as the image's entrypoint does on a new data directory. Then the service
migrates through the plain ``postgresql://`` URL it is given in compose, and the runbook's
pg_stat_statements query answers.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK_QUERY = """
SELECT query, mean_exec_time, calls
FROM pg_stat_statements
ORDER BY mean_exec_time DESC
LIMIT 10;"""

pytestmark = pytest.mark.integration


def _bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        pytest.fail(f"{name} is not installed (apt-get install postgresql)")
    return str(found[-1])


def _as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL's server refuses to run as root: drop to the postgres user when root."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _compose_postgres() -> tuple[list[str], Path]:
    """The server options and the init-script folder of docker-compose.prod.yml's postgres."""
    service = yaml.safe_load((ROOT / "docker-compose.prod.yml").read_text())["services"]["postgres"]
    options = [o.replace("${POSTGRES_MAX_CONNECTIONS:-200}", "200") for o in service["command"][1:]]
    (initdb,) = [v for v in service["volumes"] if ":/docker-entrypoint-initdb.d" in v]
    return options, ROOT / initdb.split(":")[0]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A plain libpq URL of the database ``rag`` on a scratch server set up as compose does."""
    options, scripts = _compose_postgres()
    base = Path(tempfile.mkdtemp(prefix="rag-compose-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    data, port = base / "data", _free_port()
    subprocess.run(
        _as_postgres([_bin("initdb"), "-D", str(data), "-U", "rag", "--auth=trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    process = subprocess.Popen(
        _as_postgres(
            [
                *(_bin("postgres"), "-D", str(data), "-p", str(port), "-k", str(base)),
                *("-c", "listen_addresses=127.0.0.1", *options),
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        admin = f"postgresql://rag@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 60
        while subprocess.run(["pg_isready", "-d", admin], capture_output=True).returncode:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the scratch PostgreSQL did not start"
            time.sleep(0.2)
        subprocess.run(
            ["psql", admin, "-c", "CREATE DATABASE rag"], check=True, capture_output=True
        )
        url = f"postgresql://rag@127.0.0.1:{port}/rag"
        for script in sorted(scripts.glob("*.sql")):
            ran = subprocess.run(
                ["psql", "-v", "ON_ERROR_STOP=1", "--no-password", url, "-f", str(script)],
                capture_output=True,
                text=True,
            )
            assert ran.returncode == 0, ran.stderr
        yield url
    finally:
        process.terminate()
        process.wait(timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def test_the_server_options_load_pg_stat_statements(server: str) -> None:
    shown = subprocess.run(
        ["psql", "-At", server, "-c", "SHOW shared_preload_libraries"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.strip() == "pg_stat_statements"


def test_the_service_migrates_and_the_runbooks_query_answers(server: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LOG_DIR"}
    env.update(DATABASE_URL=server, DATA_DIR=str(tmp_path))
    upgraded = subprocess.run(
        [sys.executable, "-m", "rag_chatbot", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert upgraded.returncode == 0, upgraded.stderr
    subprocess.run(["psql", server, "-c", "SELECT COUNT(*) FROM sessions;"], check=True)
    answered = subprocess.run(
        ["psql", server, "-c", RUNBOOK_QUERY], capture_output=True, text=True, timeout=60
    )
    assert answered.returncode == 0, answered.stderr
    header, _rule, first, *_ = answered.stdout.splitlines()
    assert [c.strip() for c in header.split("|")] == ["query", "mean_exec_time", "calls"]
    assert float(first.split("|")[1]) >= 0
    # The statements just run were recorded.
    counted = subprocess.run(
        [
            "psql",
            "-At",
            server,
            "-c",
            "SELECT count(*) FROM pg_stat_statements"
            " WHERE query LIKE 'SELECT COUNT(*) FROM sessions%'",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(counted.stdout) == 1
