"""build_container(settings): the one place where backends are chosen and wired together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from rag_chatbot.answering.answerer import Answerer
from rag_chatbot.answering.chat import ChatService
from rag_chatbot.answering.extractive import ExtractiveGenerator
from rag_chatbot.config import Settings
from rag_chatbot.db.chat import ChatRepository
from rag_chatbot.db.engine import create_db_engine, session_factory
from rag_chatbot.db.repository import DocumentRepository
from rag_chatbot.errors import ConfigError
from rag_chatbot.ingestion.documents import DocumentService
from rag_chatbot.ingestion.pipeline import IngestionPipeline
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.providers.vector_stores.base import VectorStore
from rag_chatbot.providers.vector_stores.payload import collection_name
from rag_chatbot.retrieval.hybrid import HybridRetriever
from rag_chatbot.retrieval.lexical import LexicalEncoder


@dataclass
class Container:
    """Everything a command or the API needs, built once per process."""

    settings: Settings
    engine: Engine
    repository: DocumentRepository
    embedder: Embedder
    store: VectorStore
    lexical: LexicalEncoder
    retriever: HybridRetriever
    answerer: Answerer
    pipeline: IngestionPipeline
    chats: ChatRepository
    chat: ChatService
    documents: DocumentService
    _closed: bool = field(default=False, repr=False)

    def cache_status(self) -> str:
        """The response cache's health; in process until the Redis cache arrives."""
        return "healthy"

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.store.close()
            self.engine.dispose()


def _onnx(settings: Settings) -> Embedder:
    from rag_chatbot.providers.embedders.onnx import OnnxMiniLMEmbedder

    return OnnxMiniLMEmbedder(batch_size=settings.embedding_batch_size)


def _sentence_transformers(settings: Settings) -> Embedder:
    from rag_chatbot.providers.embedders.sentence_transformers import (
        SentenceTransformerEmbedder,
    )

    return SentenceTransformerEmbedder(batch_size=settings.embedding_batch_size)


_EMBEDDERS: dict[str, Callable[[Settings], Embedder]] = {
    "onnx": _onnx,
    "sentence-transformers": _sentence_transformers,
}


def build_embedder(settings: Settings) -> Embedder:
    if settings.embedding_model != "all-MiniLM-L6-v2":
        raise ConfigError(
            f"EMBEDDING_MODEL: {settings.embedding_model!r} is not available offline; "
            "this build ships 'all-MiniLM-L6-v2'"
        )
    return _EMBEDDERS[settings.embedding_provider](settings)


def build_vector_store(settings: Settings, embedder: Embedder) -> VectorStore:
    """Qdrant server when QDRANT_URL is set, else Qdrant's engine in process in DATA_DIR."""
    collection = collection_name(embedder.name)
    if settings.qdrant_url:
        from rag_chatbot.providers.vector_stores.qdrant_server import QdrantServerStore

        return QdrantServerStore.from_url(
            settings.qdrant_url, settings.qdrant_api_key, collection, embedder.dimension
        )
    from rag_chatbot.providers.vector_stores.qdrant_edge import QdrantEdgeStore

    return QdrantEdgeStore(settings.data_dir / "qdrant" / collection, embedder.dimension)


def build_container(settings: Settings, embedder: Embedder | None = None) -> Container:
    """Wire the backends ``settings`` select; ``embedder`` overrides the model (tests)."""
    engine = create_db_engine(settings)
    sessions = session_factory(engine)
    repository = DocumentRepository(sessions)
    repository.create_schema()
    embedder = embedder or build_embedder(settings)
    store = build_vector_store(settings, embedder)
    lexical = LexicalEncoder()
    retriever = HybridRetriever(store, embedder, lexical, repository)
    generator = ExtractiveGenerator(embedder, lexical)
    answerer = Answerer(retriever, generator, top_k=settings.retrieval_top_k)
    pipeline = IngestionPipeline(
        repository, store, embedder, lexical, max_tokens=settings.chunk_max_tokens
    )
    chats = ChatRepository(sessions)
    return Container(
        settings=settings,
        engine=engine,
        repository=repository,
        embedder=embedder,
        store=store,
        lexical=lexical,
        retriever=retriever,
        answerer=answerer,
        pipeline=pipeline,
        chats=chats,
        chat=ChatService(answerer, chats),
        documents=DocumentService(
            pipeline,
            repository,
            settings.data_dir / "uploads",
            max_upload_bytes=settings.max_upload_mb * 1024 * 1024,
        ),
    )
