"""``Annotated`` dependencies: routes ask for the services they use, the app state holds them.

A route declares exactly what it touches (``QuestionServiceDep``, ``ChatsDep``, ...), so its
signature says which backends it needs and no route reaches through the whole container. Each
dependency is ``async``: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop
on every request for one attribute read. ``get_container`` is for the code that starts the app
and for the other dependencies (``api.security``), not for routes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from rag_chatbot.analytics import Analytics, build_analytics
from rag_chatbot.answering.chat import QuestionService
from rag_chatbot.auth.service import AuthService
from rag_chatbot.auth.users import UserRepository
from rag_chatbot.cache import ResponseCache
from rag_chatbot.config import Settings
from rag_chatbot.container import Container
from rag_chatbot.db.chat import ChatRepository
from rag_chatbot.db.repository import DocumentRepository
from rag_chatbot.ingestion.documents import DocumentService
from rag_chatbot.ingestion.schedule import Crawls
from rag_chatbot.ingestion.site import SiteIngest
from rag_chatbot.jobs.service import JobService
from rag_chatbot.jobs.setup import job_service
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.retrieval.hybrid import HybridRetriever
from rag_chatbot.serving.threads import AnswerThreads

HealthProbes = Mapping[str, Callable[[], str]]
"""A backend's name and the call that asks it, answering its state (``api.health``)."""


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def _settings(request: Request) -> Settings:
    return get_container(request).settings


async def _questions(request: Request) -> QuestionService:
    return get_container(request).chat


async def _embedder(request: Request) -> Embedder:
    return get_container(request).embedder


async def _retriever(request: Request) -> HybridRetriever:
    return get_container(request).retriever


async def _chats(request: Request) -> ChatRepository:
    return get_container(request).chats


async def _documents(request: Request) -> DocumentService:
    return get_container(request).documents


async def _jobs(request: Request) -> JobService:
    """The app's job service, built on first use (a broker's client, or the in-process runner)."""
    service: JobService | None = getattr(request.app.state, "jobs", None)
    if service is None:
        service = request.app.state.jobs = job_service(get_container(request))
    return service


async def _analytics(request: Request) -> Analytics:
    """The app's analytics reports, built on first use (their memo lives as long as the app)."""
    found: Analytics | None = getattr(request.app.state, "analytics", None)
    if found is None:
        container = get_container(request)
        found = request.app.state.analytics = build_analytics(
            container.engine,
            container.embedder,
            retriever=container.retriever,
            lexical=container.lexical,
            grounding_threshold=container.settings.grounding_threshold,
            index_version=container.repository.index_version,
        )
    return found


async def _document_repository(request: Request) -> DocumentRepository:
    return get_container(request).repository


async def _sites(request: Request) -> SiteIngest:
    return get_container(request).sites


async def _crawls(request: Request) -> Crawls:
    crawls: Crawls = request.app.state.crawls
    return crawls


async def _users(request: Request) -> UserRepository:
    return get_container(request).users


async def _auth(request: Request) -> AuthService:
    return get_container(request).auth


async def _cache(request: Request) -> ResponseCache:
    return get_container(request).cache


async def _engine(request: Request) -> Engine:
    return get_container(request).engine


async def _answer_threads(request: Request) -> AnswerThreads:
    threads: AnswerThreads = request.app.state.answer_threads
    return threads


async def _health_probes(request: Request) -> HealthProbes:
    probes: HealthProbes = request.app.state.health_probes
    return probes


SettingsDep = Annotated[Settings, Depends(_settings)]
QuestionServiceDep = Annotated[QuestionService, Depends(_questions)]
"""The one path of every question: asked, streamed, answered from the cache, stored."""
RetrieverDep = Annotated[HybridRetriever, Depends(_retriever)]
EmbedderDep = Annotated[Embedder, Depends(_embedder)]
"""The model this server embeds with (``POST /v1/embeddings``)."""
ChatsDep = Annotated[ChatRepository, Depends(_chats)]
"""Conversations, their messages and feedback, each owner's own."""
DocumentsDep = Annotated[DocumentService, Depends(_documents)]
"""Uploads, deletions and re-indexing: the writes to the library."""
JobsDep = Annotated[JobService, Depends(_jobs)]
"""Ingest jobs: submitted to the workers (or run here), followed, cancelled."""
AnalyticsDep = Annotated[Analytics, Depends(_analytics)]
"""What readers asked, for the documents' owners: summary, gaps, top questions, pages."""
DocumentRepositoryDep = Annotated[DocumentRepository, Depends(_document_repository)]
"""The library's rows and passages, read."""
SitesDep = Annotated[SiteIngest, Depends(_sites)]
"""Crawled websites: registered, claimed for a run, deleted."""
CrawlsDep = Annotated[Crawls, Depends(_crawls)]
"""The crawls this server process runs beside its requests (``ingestion.schedule``)."""
UsersDep = Annotated[UserRepository, Depends(_users)]
AuthDep = Annotated[AuthService, Depends(_auth)]
ResponseCacheDep = Annotated[ResponseCache, Depends(_cache)]
EngineDep = Annotated[Engine, Depends(_engine)]
"""The database engine, for its pool's gauges."""
AnswerThreadsDep = Annotated[AnswerThreads, Depends(_answer_threads)]
"""The capped threads answers are computed in (``serving.threads``)."""
HealthProbesDep = Annotated[HealthProbes, Depends(_health_probes)]
