"""create_app(container): the FastAPI application, with no import-time globals."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag_chatbot import __version__
from rag_chatbot.api.errors import error_response, install_error_handlers
from rag_chatbot.api.health import backend_probes
from rag_chatbot.api.openapi import install_openapi
from rag_chatbot.api.protection import RateLimits, SecurityHeaders
from rag_chatbot.api.routes import (
    admin,
    analytics,
    auth,
    chat,
    documents,
    embeddings,
    health,
    jobs,
    openai_compat,
    sessions,
    sources,
)
from rag_chatbot.api.security import CLIENT_TOKEN_HEADER
from rag_chatbot.api.storable import StorableRequest
from rag_chatbot.container import Container
from rag_chatbot.ingestion.schedule import Crawls
from rag_chatbot.observability.metrics import mark_process_dead, multiprocess_enabled
from rag_chatbot.observability.middleware import ObservabilityMiddleware
from rag_chatbot.observability.pool import watch_pool
from rag_chatbot.serving.threads import AnswerThreads, chat_threads
from rag_chatbot.web import routes as web

# Room for multipart framing around the largest allowed file.
_MULTIPART_MARGIN = 64 * 1024


def create_app(container: Container, *, owns_container: bool = False) -> FastAPI:
    """The API over ``container``; closes it on shutdown when ``owns_container``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Each start has a probe pool of its own, which its shutdown ends: an app may be
        # started again (a test client starts it for every request).
        app.state.probe_pool = _probe_pool()
        # Every server process: renew the leases of its uploads, fail those of dead processes.
        container.documents.watch.start()
        # Crawls of this start: the API's, and the scheduled re-crawls (``ingestion.schedule``).
        app.state.crawls = crawls = Crawls(container.sites)
        if container.settings.crawl_scheduler:
            crawls.schedule(container.settings.crawl_scheduler_tick)
        try:
            yield
        finally:
            await asyncio.to_thread(crawls.stop)  # each crawl ends after its page in work
            container.documents.watch.stop()
            app.state.probe_pool.shutdown(wait=False, cancel_futures=True)
            if owns_container:
                container.close()
            if multiprocess_enabled():
                mark_process_dead(os.getpid())  # this worker's live gauges stop counting

    production = container.settings.environment == "production"
    app = FastAPI(
        title="rag-chatbot",
        version=__version__,
        description="Answers from your documents, with citations.",
        lifespan=lifespan,
        # The interactive pages load scripts from a CDN and run inline code: not in production,
        # where /openapi.json alone describes the API.
        docs_url=None if production else "/docs",
        redoc_url=None if production else "/redoc",
    )
    app.state.container = container
    watch_pool(container.engine)  # rag_chatbot_db_pool_* gauges
    app.state.probe_pool = _probe_pool()  # served without a lifespan (ASGI test transports)
    app.state.crawls = Crawls(container.sites)  # likewise
    llm = container.llm is not None
    app.state.answer_threads = AnswerThreads(chat_threads(container.settings, llm=llm))
    app.state.health_probes = backend_probes(container)
    install_error_handlers(app)
    modules = (
        chat,
        sessions,
        documents,
        jobs,
        sources,
        health,
        auth,
        admin,
        analytics,
        openai_compat,
        embeddings,
        web,
    )
    for module in modules:
        app.include_router(module.router)
    install_openapi(app, [module.router for module in modules])

    settings = container.settings
    # Innermost first: CORS wraps the rate limiter, so a browser can read a 429.
    if settings.enable_rate_limit:
        app.add_middleware(
            RateLimits,
            limiter=container.limiter,
            auth=container.auth,
            admin_token=settings.admin_token,
        )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", CLIENT_TOKEN_HEADER],
            expose_headers=[
                "X-Request-ID",
                CLIENT_TOKEN_HEADER,
                "Retry-After",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
            ],
        )
    if settings.enable_gzip:
        app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(
        BodySizeLimit, max_bytes=container.documents.max_upload_bytes + _MULTIPART_MARGIN
    )
    app.add_middleware(StorableRequest)  # NUL in path, query or headers: 422 before routing
    app.add_middleware(SecurityHeaders, docs_pages=not production)
    app.add_middleware(ObservabilityMiddleware)
    return app


def _probe_pool() -> ThreadPoolExecutor:
    """Threads for /api/health/detailed's probes (``api.health``)."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="probe")


class BodySizeLimit:
    """Refuses a request whose declared or streamed body exceeds ``max_bytes`` with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise _TooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, f"request body over {self.max_bytes} bytes", "FILE_TOO_LARGE"
        )
        await response(scope, receive, send)


class _TooLarge(StarletteHTTPException):
    """A streamed body (``Transfer-Encoding: chunked``) went over the limit while being read.

    An HTTP error, not a plain exception: FastAPI passes HTTP errors raised while it reads a
    body on to the error handlers (413 ``FILE_TOO_LARGE``), and turns anything else into 400.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body over {max_bytes} bytes")


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory`` and each worker of ``rag-chatbot serve``.

    Runs in every worker process: logging is configured here, not only in the parent.
    """
    from rag_chatbot.config import load_settings
    from rag_chatbot.container import build_container
    from rag_chatbot.observability.logging import configure_logging

    settings = load_settings()
    configure_logging(settings.log_dir, settings.log_level, settings.log_format)
    container = build_container(settings)
    container.pipeline.publish_index_size()
    app = create_app(container, owns_container=True)
    # What start-up built lives as long as the worker: kept out of the garbage collector's
    # full passes, which scanned all of it and paused every request while they ran.
    gc.collect()
    gc.freeze()
    return app
