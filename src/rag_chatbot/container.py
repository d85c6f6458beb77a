"""build_container(settings): the one place where backends are chosen and wired together."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from rag_chatbot.answering.answerer import Answerer
from rag_chatbot.answering.base import Generator
from rag_chatbot.answering.chat import QuestionService
from rag_chatbot.answering.conversation import QueryRewriter, RuleRewriter
from rag_chatbot.answering.extractive import ExtractiveGenerator
from rag_chatbot.answering.fallback import FallbackGenerator
from rag_chatbot.answering.grounding import EvidenceReader, GroundingModel
from rag_chatbot.answering.llm import LlmGenerator, LlmRewriter
from rag_chatbot.answering.prompting import PromptBudget
from rag_chatbot.answering.support import SupportCheck
from rag_chatbot.auth.service import AuthService, jwt_secret
from rag_chatbot.auth.users import UserRepository
from rag_chatbot.cache import ResponseCache
from rag_chatbot.config import Settings
from rag_chatbot.config_rules import ExtractiveChoice, GeminiChoice, OpenAIChoice
from rag_chatbot.db.chat import ChatRepository
from rag_chatbot.db.engine import create_db_engine, session_factory
from rag_chatbot.db.leases import ProcessingLeases
from rag_chatbot.db.repository import DocumentRepository
from rag_chatbot.ingestion.documents import DocumentService
from rag_chatbot.ingestion.pipeline import IngestionPipeline
from rag_chatbot.ingestion.watch import ProcessingWatch
from rag_chatbot.keyvalue import KeyValueStore, RedisStore, build_store
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.providers.generators.base import ChatModel, RetryPolicy
from rag_chatbot.providers.vector_stores.base import VectorStore
from rag_chatbot.providers.vector_stores.payload import collection_name
from rag_chatbot.providers.vector_stores.shared.client import SharedVectorStore
from rag_chatbot.providers.vector_stores.shared.workers import share_with_workers
from rag_chatbot.ratelimit import RateLimiter
from rag_chatbot.retrieval.hybrid import HybridRetriever
from rag_chatbot.retrieval.lexical import LexicalEncoder
from rag_chatbot.retrieval.scoring import complete_scores, served_scorer

log = logging.getLogger(__name__)


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
    chat: QuestionService
    documents: DocumentService
    kv: KeyValueStore
    users: UserRepository
    auth: AuthService
    cache: ResponseCache
    limiter: RateLimiter
    rewriter: QueryRewriter = field(default_factory=RuleRewriter)
    llm: FallbackGenerator | None = None
    _closed: bool = field(default=False, repr=False)

    def generator_status(self) -> str:
        """The language model's state: ``degraded`` while answers fall back (or it is down)."""
        return self.llm.status() if self.llm is not None else "healthy"

    def cache_status(self) -> str:
        """Redis (or the in-process store) answering: ``healthy``; unreachable: ``degraded``."""
        return self.cache.status()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.store.close()
            self.engine.dispose()
            if isinstance(self.kv, RedisStore):
                self.kv.close()


def _onnx(settings: Settings) -> Embedder:
    from rag_chatbot.providers.embedders.derived import default_cache_dir
    from rag_chatbot.providers.embedders.onnx import OnnxMiniLMEmbedder

    return OnnxMiniLMEmbedder(
        batch_size=settings.embedding_batch_size,
        threads=settings.embedding_threads or None,
        model_dir=settings.model_cache_dir or default_cache_dir(),
        precision=settings.embedding_precision,
    )


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
    """The configured model (``Settings`` has checked that this build ships it)."""
    return _EMBEDDERS[settings.embedding_provider](settings)


def embedding_identity(settings: Settings) -> tuple[str, int]:
    """The configured model's name and dimension, known without loading it.

    Both providers run the one model this build ships, so its constants answer for either;
    only the onnx provider embeds passages in integers.
    """
    from rag_chatbot.providers.embedders.onnx import DIMENSION, name_for

    onnx = settings.embedding_provider == "onnx"
    return name_for(settings.embedding_precision if onnx else "float"), DIMENSION


def build_vector_store(settings: Settings, embedder: Embedder) -> VectorStore:
    """The vector store ``settings`` select: a Qdrant server, a shared index or an embedded one.

    QDRANT_URL set: that server. Else, in a worker of ``serve --workers N``: the parent's index
    through ``SharedVectorStore`` (see ``shared_vector_store``). Else: Qdrant's engine in this
    process, in ``DATA_DIR/qdrant/<collection>``.
    """
    if settings.qdrant_url:
        from rag_chatbot.providers.vector_stores.qdrant_server import QdrantServerStore

        return QdrantServerStore.from_url(
            settings.qdrant_url,
            settings.qdrant_api_key,
            collection_name(embedder.name),
            embedder.dimension,
        )
    return SharedVectorStore.from_environment() or _embedded_store(
        settings, embedder.name, embedder.dimension
    )


def _embedded_store(settings: Settings, model_name: str, dimension: int) -> VectorStore:
    from rag_chatbot.providers.vector_stores.qdrant_edge import QdrantEdgeStore

    return QdrantEdgeStore(settings.data_dir / "qdrant" / collection_name(model_name), dimension)


@contextmanager
def shared_vector_store(settings: Settings) -> Iterator[Path]:
    """Open the embedded index in this process and serve it to the processes started meanwhile.

    For ``serve --workers N`` without QDRANT_URL: Qdrant Edge opens a shard in one process
    only, so the parent owns it and each worker's ``build_vector_store`` connects to it
    through the socket ``DATA_DIR/run/vector-store.sock`` (yielded). The embedding model is
    not loaded here. Raises ``ProviderError`` when the index is open elsewhere; the socket
    file is then left alone, and otherwise one found there is stale (its server would hold
    the index) and is replaced.
    """
    name, dimension = embedding_identity(settings)
    store = _embedded_store(settings, name, dimension)
    try:
        socket_path = settings.data_dir.resolve() / "run" / "vector-store.sock"
        with share_with_workers(store, socket_path, [complete_scores]) as server:
            yield Path(server.address)
    finally:
        store.close()


def _openai(settings: Settings, choice: OpenAIChoice, retry: RetryPolicy) -> ChatModel:
    from rag_chatbot.providers.generators.openai_compatible import OpenAIChatModel

    return OpenAIChatModel(
        choice.model,
        base_url=choice.base_url,
        api_key=choice.api_key,
        timeout=settings.llm_timeout,
        retry=retry,
        temperature=settings.llm_temperature,
    )


def _gemini(settings: Settings, choice: GeminiChoice, retry: RetryPolicy) -> ChatModel:
    from rag_chatbot.providers.generators.gemini import GeminiChatModel

    return GeminiChatModel(
        choice.model,
        api_key=choice.api_key,
        base_url=choice.base_url,
        timeout=settings.llm_timeout,
        retry=retry,
        temperature=settings.llm_temperature,
    )


def build_generator(
    settings: Settings, extractive: ExtractiveGenerator, checker: SupportCheck | None = None
) -> tuple[Generator, QueryRewriter, FallbackGenerator | None]:
    """The answer generator ``settings.generator`` chose, its query rewriter, and the LLM if any.

    A language model answers with ``extractive`` behind it (used when the model fails, or
    when ``checker`` finds its answer unsupported by the passages it cites).
    """
    choice = settings.generator
    retry = RetryPolicy(retries=settings.llm_max_retries)
    match choice:
        case ExtractiveChoice():
            return extractive, RuleRewriter(), None
        case OpenAIChoice():
            model = _openai(settings, choice, retry)
        case GeminiChoice():
            model = _gemini(settings, choice, retry)
    budget = PromptBudget(
        context_tokens=settings.llm_context_tokens,
        answer_tokens=settings.llm_max_tokens,
        history_tokens=settings.llm_history_tokens,
    )
    llm = FallbackGenerator(LlmGenerator(model, budget, checker), extractive)
    return llm, LlmRewriter(model, history_tokens=settings.llm_history_tokens), llm


def _warn_of_missing_vectors(
    repository: DocumentRepository, store: VectorStore, model: str
) -> None:
    """Say so when the database lists passages that this model's collection does not hold.

    It happens after a change of model or precision (each has its own collection: the other's
    vectors are kept, not mixed in), or when the vector index was lost; searches find nothing
    until the next ingest embeds the documents again.
    """
    if store.count() == 0 and repository.counts()["chunks"] > 0:
        log.warning(
            f"the vector index holds no passages for {model}: the documents were embedded "
            "with another model or EMBEDDING_PRECISION, or the index was lost; run "
            "`rag-chatbot ingest` on them again (or set EMBEDDING_PRECISION back)"
        )


def build_container(
    settings: Settings, embedder: Embedder | None = None, store: VectorStore | None = None
) -> Container:
    """Wire the backends ``settings`` select; ``embedder`` and ``store`` override (tests).

    Tests pass another container's ``store`` to build a second API replica over the same
    embedded index (which one process can open only once).
    """
    engine = create_db_engine(settings)
    sessions = session_factory(engine)
    repository = DocumentRepository(sessions)
    repository.create_schema()
    embedder = embedder or build_embedder(settings)
    store = store or build_vector_store(settings, embedder)
    _warn_of_missing_vectors(repository, store, embedder.name)
    lexical = LexicalEncoder()
    # A shared index scores the candidates where it is: one round trip instead of four.
    scorer = served_scorer(store.run) if isinstance(store, SharedVectorStore) else None
    retriever = HybridRetriever(store, embedder, lexical, repository, scorer=scorer)
    generator, rewriter, llm = build_generator(
        settings, ExtractiveGenerator(embedder, lexical), SupportCheck(lexical, embedder)
    )
    answerer = Answerer(
        retriever,
        generator,
        EvidenceReader(lexical),
        top_k=settings.retrieval_top_k,
        grounding=GroundingModel(threshold=settings.grounding_threshold),
    )
    pipeline = IngestionPipeline(
        repository,
        store,
        embedder,
        lexical,
        max_tokens=settings.chunk_max_tokens,
        max_document_bytes=settings.max_document_mb * 1024 * 1024,
    )
    chats = ChatRepository(sessions)
    kv = build_store(settings.redis_url, settings.redis_key_prefix)
    users = UserRepository(sessions)
    auth = AuthService(
        users,
        kv,
        jwt_secret(settings),
        access_seconds=settings.access_token_minutes * 60,
        refresh_seconds=settings.refresh_token_days * 86400,
    )
    cache = ResponseCache(
        kv,
        repository.index_version,
        ttl=settings.cache_ttl,
        enabled=settings.enable_response_cache,
    )
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
        chat=QuestionService(answerer, cache, rewriter, chats),
        rewriter=rewriter,
        llm=llm,
        documents=DocumentService(
            pipeline,
            repository,
            settings.data_dir / "uploads",
            max_upload_bytes=settings.max_upload_mb * 1024 * 1024,
            watch=ProcessingWatch(ProcessingLeases(sessions)),
        ),
        kv=kv,
        users=users,
        auth=auth,
        cache=cache,
        limiter=RateLimiter.from_settings(kv, settings),
    )
