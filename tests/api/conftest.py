"""An API over a real container (real model, Qdrant engine, SQLite) with the fixture corpus."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from testing_secrets import TEST_ADMIN_TOKEN, TEST_JWT_SECRET

from rag_chatbot.api.app import create_app
from rag_chatbot.config import Settings
from rag_chatbot.container import Container, build_container
from rag_chatbot.providers.embedders.base import Embedder


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def api_container(
    tmp_path_factory: pytest.TempPathFactory, onnx_embedder: Embedder, fixture_corpus: Path
) -> Iterator[Container]:
    data = tmp_path_factory.mktemp("api") / "data"
    settings = Settings(  # type: ignore[call-arg]
        data_dir=data,
        environment="test",
        jwt_secret_key=TEST_JWT_SECRET,
        admin_token=TEST_ADMIN_TOKEN,
        max_upload_mb=1,
        rate_limit_chat="10000/minute",  # the limits have tests of their own
        rate_limit_auth="10000/minute",
        rate_limit_default="10000/minute",
    )
    container = build_container(settings, embedder=onnx_embedder)
    container.pipeline.ingest_paths([fixture_corpus])
    yield container
    container.close()


@pytest.fixture
async def client(api_container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """An anonymous reader's browser: its own ``X-Client-Token``."""
    async with _client(api_container, {"X-Client-Token": secrets.token_urlsafe(24)}) as http:
        yield http


@pytest.fixture
async def admin_client(api_container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """The operator, with ``ADMIN_TOKEN``."""
    async with _client(api_container, {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}) as http:
        yield http


def _client(container: Container, headers: dict[str, str]) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(container))
    return httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers)
