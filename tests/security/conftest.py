"""Apps over real containers with Redis (own key prefix per test) or in-process stores.

Every container-backed test runs twice: accounts, sessions and the index version in SQLite,
then in a fresh PostgreSQL database.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from postgres import fresh_database
from security_support import Factory, browser, client
from testing_secrets import TEST_ADMIN_TOKEN, TEST_JWT_SECRET

from rag_chatbot.config import Settings
from rag_chatbot.container import Container, build_container
from rag_chatbot.providers.embedders.base import Embedder

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _redis_up(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The machine's Redis (started if it is down, as the brief allows)."""
    if not _redis_up(REDIS_URL):
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=True,
        )
        time.sleep(0.5)
    assert _redis_up(REDIS_URL), "Redis on 127.0.0.1:6379 is not running"
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None: the default SQLite file in the data directory; else a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    with fresh_database(request.getfixturevalue("postgres_admin"), "rag_security") as url:
        yield url


@pytest.fixture
def make_container(
    tmp_path: Path, onnx_embedder: Embedder, fixture_corpus: Path, database_url: str | None
) -> Iterator[Factory]:
    """Build containers over one data directory with the fixture corpus; closed afterwards.

    Two containers on the same settings are two API replicas (they share Redis when given).
    """
    built: list[Container] = []
    data = tmp_path / "data"

    def factory(**overrides: Any) -> Container:
        values: dict[str, Any] = {
            "data_dir": data,
            "environment": "test",
            "jwt_secret_key": TEST_JWT_SECRET,
            "admin_token": TEST_ADMIN_TOKEN,
            "rate_limit_chat": "10000/minute",
            "rate_limit_auth": "10000/minute",
            "rate_limit_default": "10000/minute",
            "rate_limit_upload": "10000/minute",
        }
        if database_url is not None:
            values["database_url"] = database_url
        values.update(overrides)
        if built and "qdrant_url" not in values:
            # One embedded index opens in one process only: replicas share the first's store.
            container = build_container(
                Settings(**values), embedder=onnx_embedder, store=built[0].store
            )
        else:
            container = build_container(Settings(**values), embedder=onnx_embedder)
        if not built:
            container.pipeline.ingest_paths([fixture_corpus])
        built.append(container)
        return container

    yield factory
    for container in reversed(built):
        container.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A redis-server of this test's own on a free loopback port, to stop and restart."""
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


class PrivateRedis:
    def __init__(self, workdir: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        assert shutil.which("redis-server"), "redis-server is not installed"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _redis_up(self.url):
            assert time.monotonic() < deadline, "private redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
async def anonymous(make_container: Factory) -> AsyncIterator[httpx.AsyncClient]:
    async with client(make_container(), browser()) as http:
        yield http
