"""Shared fixtures: the real embedding model (loaded once) and an isolated data directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres import admin_engine
from sqlalchemy import Engine
from testing_secrets import TEST_JWT_SECRET

from rag_chatbot.config import Settings
from rag_chatbot.container import Container, build_container
from rag_chatbot.providers.embedders.base import Embedder

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = FIXTURES / "corpus"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def fixture_corpus() -> Path:
    """A small corpus (Markdown, HTML with chrome, text) about lighthouses, compost and tea."""
    return CORPUS


@pytest.fixture(scope="session")
def onnx_embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """The default model as the app builds it (integer query model included)."""
    from rag_chatbot.providers.embedders.onnx import OnnxMiniLMEmbedder

    precision = Settings.model_fields["embedding_precision"].default
    models = tmp_path_factory.mktemp("models")
    return OnnxMiniLMEmbedder(batch_size=32, model_dir=models, precision=precision)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "data", environment="test", jwt_secret_key=TEST_JWT_SECRET
    )


@pytest.fixture
def container(settings: Settings, onnx_embedder: Embedder) -> Iterator[Container]:
    built = build_container(settings, embedder=onnx_embedder)
    yield built
    built.close()


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on PostgreSQL's ``test`` database, for CREATE / DROP DATABASE."""
    engine = admin_engine()
    yield engine
    engine.dispose()
