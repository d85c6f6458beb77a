"""An API over a real container (real model, Qdrant engine, SQLite) with the fixture corpus."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

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
    settings = Settings(data_dir=data, environment="test", max_upload_mb=1)  # type: ignore[call-arg]
    container = build_container(settings, embedder=onnx_embedder)
    container.pipeline.ingest_paths([fixture_corpus])
    yield container
    container.close()


@pytest.fixture
async def client(api_container: Container) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(api_container)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
