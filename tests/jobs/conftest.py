"""Job fixtures: a database (SQLite or a fresh PostgreSQL one), a queue of our own on the real
Redis (127.0.0.1:6379, database 12) or RabbitMQ (127.0.0.1:5672), and a Redis server of our
own for the tests that stop it. Nothing another test or program uses is purged."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from job_processes import RedisServer, free_port
from postgres import fresh_database, migrated_engine
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from rag_chatbot.db.engine import session_factory
from rag_chatbot.jobs.broker import NAMESPACE

REDIS_DB_URL = "redis://127.0.0.1:6379/12"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        (tmp_path / "db").mkdir()
        yield f"sqlite:///{tmp_path / 'db' / 'jobs.db'}"
        return
    with fresh_database(request.getfixturevalue("postgres_admin"), "rag_jobs") as url:
        yield url


@pytest.fixture
def postgres_url(postgres_admin: Engine) -> Iterator[str]:
    """A fresh PostgreSQL database: several processes share it."""
    with fresh_database(postgres_admin, "rag_jobs") as url:
        yield url


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    with migrated_engine(database_url, tmp_path / "data") as built:
        yield built


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def queue_name() -> str:
    return f"test-{secrets.token_hex(5)}"


@pytest.fixture
def redis_queue(queue_name: str, shared_redis: None) -> Iterator[tuple[str, str]]:
    """(BROKER_URL, JOB_QUEUE) on the shared Redis; this queue's keys are deleted afterwards."""
    yield REDIS_DB_URL, queue_name
    client = redis.Redis.from_url(REDIS_DB_URL)
    try:
        doomed = [
            *client.scan_iter(f"{NAMESPACE}:{queue_name}*"),
            *client.scan_iter(f"{NAMESPACE}:__acks__.*.{queue_name}*"),
        ]
        if doomed:
            client.delete(*doomed)
    finally:
        client.close()


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _started(port: int, command: list[str], name: str) -> None:
    """The machine's broker on ``port``, started if it is down (as the brief allows)."""
    if _answers(port):
        return
    subprocess.run(command, check=False, capture_output=True, timeout=60)
    deadline = time.monotonic() + 90
    while not _answers(port):
        if time.monotonic() > deadline:
            pytest.fail(f"{name} is not answering on 127.0.0.1:{port} and could not be started")
        time.sleep(0.5)


@pytest.fixture(scope="session")
def shared_redis() -> None:
    redis_server = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1"]
    _started(6379, [*redis_server, "--port", "6379", "--save", "", "--appendonly", "no"], "Redis")


@pytest.fixture(scope="session")
def shared_rabbitmq() -> None:
    _started(5672, ["rabbitmq-server", "-detached"], "RabbitMQ")


@pytest.fixture
def rabbitmq_queue(queue_name: str, shared_rabbitmq: None) -> Iterator[tuple[str, str]]:
    """(BROKER_URL, JOB_QUEUE) on the shared RabbitMQ; this queue is deleted afterwards."""
    yield RABBITMQ_URL, queue_name
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        channel = connection.channel()
        for name in (queue_name, f"{queue_name}.DQ", f"{queue_name}.XQ"):
            channel.queue_delete(queue=name)
    finally:
        connection.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is required (Debian package redis-server)")
    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield server
    server.kill()
