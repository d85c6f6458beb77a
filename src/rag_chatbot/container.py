"""build_container(settings): the one place where backends are chosen and wired together.

The factories of each backend kind are in ``backends``; they are named here too, since this is
where callers look for them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine

from rag_chatbot.answering.answerer import Answerer
from rag_chatbot.answering.chat import QuestionService
from rag_chatbot.answering.conversation import QueryRewriter, RuleRewriter
from rag_chatbot.answering.extractive import ExtractiveGenerator
from rag_chatbot.answering.fallback import FallbackGenerator
from rag_chatbot.answering.grounding import EvidenceReader, GroundingModel
from rag_chatbot.answering.support import SupportCheck
from rag_chatbot.auth.service import AuthService, jwt_secret
from rag_chatbot.auth.users import UserRepository
from rag_chatbot.backends import (
    build_embedder,
    build_generator,
    build_vector_store,
    embedding_identity,
    shared_vector_store,
)
from rag_chatbot.cache import ResponseCache
from rag_chatbot.config import Settings
from rag_chatbot.crawl import CrawlOptions
from rag_chatbot.db.chat import ChatRepository
from rag_chatbot.db.engine import create_db_engine, session_factory
from rag_chatbot.db.leases import ProcessingLeases
from rag_chatbot.db.repository import DocumentRepository
from rag_chatbot.db.sites import SiteRepository
from rag_chatbot.ingestion.documents import DocumentService
from rag_chatbot.ingestion.pipeline import IngestionPipeline
from rag_chatbot.ingestion.site import SiteIngest
from rag_chatbot.ingestion.site_urls import Publication
from rag_chatbot.ingestion.watch import ProcessingWatch
from rag_chatbot.keyvalue import KeyValueStore, RedisStore, build_store
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.providers.vector_stores.base import VectorStore
from rag_chatbot.providers.vector_stores.shared.client import SharedVectorStore
from rag_chatbot.ratelimit import RateLimiter
from rag_chatbot.retrieval.hybrid import HybridRetriever
from rag_chatbot.retrieval.lexical import LexicalEncoder
from rag_chatbot.retrieval.scoring import served_scorer

__all__ = [
    "Container",
    "build_container",
    "build_embedder",
    "build_generator",
    "build_vector_store",
    "embedding_identity",
    "shared_vector_store",
]
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
    sites: SiteIngest
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
        publication=Publication(settings.site_url, settings.site_style)
        if settings.site_url
        else None,
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
        sites=SiteIngest(pipeline, SiteRepository(sessions), repository, crawl_defaults(settings)),
        kv=kv,
        users=users,
        auth=auth,
        cache=cache,
        limiter=RateLimiter.from_settings(kv, settings),
    )


def crawl_defaults(settings: Settings) -> CrawlOptions:
    """The crawl options the settings give (``CRAWL_*``); a site's own choices go on top."""
    hosts = tuple(h.strip() for h in settings.crawl_allowed_hosts.split(",") if h.strip())
    return CrawlOptions(
        max_pages=settings.crawl_max_pages,
        allowed_hosts=hosts,
        concurrency=settings.crawl_concurrency,
        rate=settings.crawl_rate,
        timeout=settings.crawl_timeout,
    )
