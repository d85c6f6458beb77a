"""A real container (the model, Qdrant's engine, SQLite or PostgreSQL) over the fixture corpus,
its API app, and clients: the operator, readers with their own browser tokens, an account."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from analytics_clients import Clients
from postgres import fresh_database
from testing_secrets import TEST_ADMIN_TOKEN, TEST_JWT_SECRET

from rag_chatbot.config import Settings
from rag_chatbot.container import Container, build_container
from rag_chatbot.providers.embedders.base import Embedder


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    onnx_embedder: Embedder,
    fixture_corpus: Path,
) -> Iterator[Container]:
    """A container of this module's own: its questions are the only ones it has seen."""
    with ExitStack() as stack:
        url = None
        if request.param == "postgresql":
            admin = request.getfixturevalue("postgres_admin")
            url = stack.enter_context(fresh_database(admin, "rag_analytics"))
        settings = Settings(  # type: ignore[call-arg]
            data_dir=tmp_path_factory.mktemp("analytics") / "data",
            database_url=url,
            environment="test",
            jwt_secret_key=TEST_JWT_SECRET,
            admin_token=TEST_ADMIN_TOKEN,
            rate_limit_chat="10000/minute",  # the limits have tests of their own
            rate_limit_auth="10000/minute",
            rate_limit_default="10000/minute",
        )
        container = build_container(settings, embedder=onnx_embedder)
        container.pipeline.ingest_paths([fixture_corpus])
        stack.callback(container.close)
        yield container


@pytest.fixture
async def clients(served: Container) -> AsyncIterator[Clients]:
    made = Clients(served)
    yield made
    await made.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of a test's own: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rag-chatbot.db'}"
        return
    with fresh_database(request.getfixturevalue("postgres_admin"), "rag_analytics") as url:
        yield url
