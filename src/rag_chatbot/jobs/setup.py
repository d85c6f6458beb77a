"""The job service and handlers of a process, built from what its container holds.

The jobs package sits below the container (``container`` wires services; the API and the CLI
build jobs over it), so it asks for the parts it uses by shape (``Parts``) rather than
importing the container.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Engine

from rag_chatbot.config import Settings
from rag_chatbot.db.engine import session_factory
from rag_chatbot.db.repository import DocumentRepository
from rag_chatbot.ingestion.documents import DocumentService
from rag_chatbot.ingestion.pipeline import IngestionPipeline
from rag_chatbot.ingestion.site import SiteIngest
from rag_chatbot.jobs.broker import BrokerQueue
from rag_chatbot.jobs.inline import InlineQueue
from rag_chatbot.jobs.queue import MessageQueue
from rag_chatbot.jobs.runner import Runner
from rag_chatbot.jobs.service import RUNNER, JobService
from rag_chatbot.jobs.store import JobStore
from rag_chatbot.jobs.tasks import JobHandlers


class Parts(Protocol):
    """What jobs use of a process's container."""

    settings: Settings
    engine: Engine
    pipeline: IngestionPipeline
    repository: DocumentRepository
    documents: DocumentService
    sites: SiteIngest


def job_store(parts: Parts) -> JobStore:
    return JobStore(session_factory(parts.engine))


def job_handlers(parts: Parts, store: JobStore, queue: MessageQueue, runner: Runner) -> JobHandlers:
    settings = parts.settings
    return JobHandlers(
        store,
        queue,
        parts.pipeline,
        parts.repository,
        parts.sites,
        settings.data_dir / "uploads",
        settings.max_document_mb * 1024 * 1024,
        runner,
    )


def job_service(parts: Parts) -> JobService:
    """Jobs sent to BROKER_URL's workers, or run in this process when it is unset."""
    settings = parts.settings
    store = job_store(parts)
    queue: BrokerQueue | InlineQueue
    if settings.broker_url:
        queue = BrokerQueue(settings.broker_url, settings.job_queue, settings.job_max_retries)
    else:
        queue = InlineQueue(store, RUNNER, settings.job_max_retries)
        queue.attach(job_handlers(parts, store, queue, Runner(RUNNER)))
    return JobService(store, queue, settings.data_dir / "uploads", parts.documents.watch.release)
