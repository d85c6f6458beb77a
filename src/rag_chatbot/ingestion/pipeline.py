"""The ingestion pipeline: load -> chunk -> embed -> store, one document at a time.

Atomicity across the two stores: a new version's points are written to the vector store under
fresh ids and flushed, then one database transaction swaps the chunk rows, then the old points
are deleted. Search only returns points whose rows are committed, so a reader sees the old
version or the new one, never a mix. A crash leaves at worst unowned points (collected by
``reconcile``) — or, if the vector store lost writes, documents whose points are missing,
which ``reconcile`` forgets so the next ingest indexes them again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag_chatbot.db.repository import DocumentRecord, DocumentRepository
from rag_chatbot.domain import Chunk, IndexedChunk
from rag_chatbot.errors import IngestionError, RagChatbotError, UnsupportedFormat
from rag_chatbot.ingestion.chunking import CHUNKER_VERSION, chunk_document, document_id_for
from rag_chatbot.ingestion.heap import release_freed_memory
from rag_chatbot.ingestion.loaders import load_bytes
from rag_chatbot.ingestion.planning import MB, Job, Planner
from rag_chatbot.ingestion.progress import IngestProgress
from rag_chatbot.ingestion.site_urls import Publication
from rag_chatbot.observability.metrics import record_ingest_failures, set_index_size
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.providers.embedders.memo import VectorMemo
from rag_chatbot.providers.vector_stores.base import VectorStore
from rag_chatbot.retrieval.lexical import LexicalEncoder

log = logging.getLogger(__name__)

Outcome = str  # "added" | "updated" | "unchanged" | "failed" | "skipped"
# Passages embedded between two progress reports: about two seconds of the model on two cores.
EMBED_STEP = 64


@dataclass
class IngestReport:
    """Summary of one ingest run (contract: the JSON of ``rag-chatbot ingest --json``).

    ``failed`` and ``skipped`` are counts in the JSON; ``failures`` and ``skipped_files`` list
    each file with its reason; ``renamed`` lists the files kept under their folder's name
    because another folder's document holds their relative path (``planning``).
    """

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    renamed: list[dict[str, str]] = field(default_factory=list)
    chunks: int = 0
    reused: int = 0
    seconds: float = 0.0
    embedding_seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": len(self.failed),
            "skipped": len(self.skipped),
            "failures": self.failed,
            "skipped_files": self.skipped,
            "renamed": self.renamed,
            "chunks": self.chunks,
            "reused": self.reused,
            "seconds": round(self.seconds, 3),
            "embedding_seconds": round(self.embedding_seconds, 3),
        }


class IngestionPipeline:
    """Indexes files into the relational store and the vector store together."""

    def __init__(
        self,
        repository: DocumentRepository,
        store: VectorStore,
        embedder: Embedder,
        lexical: LexicalEncoder,
        max_tokens: int,
        max_document_bytes: int = 64 * MB,
        publication: Publication | None = None,
    ) -> None:
        self._repo = repository
        self._planner = Planner(repository, max_document_bytes)
        self._store = store
        self._embedder = embedder
        self._lexical = lexical
        self._max_tokens = min(max_tokens, embedder.max_tokens)
        self.embedding_seconds = 0.0  # time spent in the model, for the benchmark's split
        self.memo = VectorMemo()
        # Files of a folder published as a site cite their pages there (``site_urls``).
        self._publication = publication
        published = f":{publication.base_url}:{publication.style}" if publication else ""
        self.fingerprint = hashlib.sha256(
            f"{CHUNKER_VERSION}:{self._max_tokens}:{embedder.name}{published}".encode()
        ).hexdigest()[:16]

    def ingest_paths(
        self, paths: Sequence[Path], progress: IngestProgress | None = None
    ) -> IngestReport:
        """Ingest files and directories (recursively); prune files gone from a directory."""
        started = time.perf_counter()
        report = IngestReport()
        reused_before = self.memo.reused
        self.reconcile()
        plan = self._planner.plan(paths)
        report.skipped += plan.skipped
        report.failed += plan.failed
        report.renamed += plan.renamed
        if progress:
            progress.planned(len(plan.jobs), sum(job.size for job in plan.jobs))
        for job in plan.jobs:
            if progress:
                progress.file_started(job.source, job.size)
            outcome = self._ingest_job(job, report, progress)
            if progress:
                progress.file_done(job.source, outcome)
        for origin, seen in plan.directories.items():
            for source in sorted(self._repo.sources_from(origin) - seen):
                self.remove(source)
                report.removed += 1
        self.settle()
        if report.failed:
            record_ingest_failures(len(report.failed))
        report.reused = self.memo.reused - reused_before
        report.seconds = time.perf_counter() - started
        return report

    def settle(self) -> None:
        """After a run: free what it held, optimise the index, publish the index's size."""
        release_freed_memory()  # before the index's optimisation, the peak of a large ingest
        self._store.optimize()
        self.publish_index_size()

    def publish_index_size(self) -> None:
        """Update the documents/chunks gauges from the database."""
        counts = self._repo.counts()
        set_index_size(counts["documents"], counts["chunks"])

    def ingest_bytes(
        self,
        data: bytes,
        source: str,
        origin: str = "",
        *,
        force: bool = False,
        embedded: Callable[[int, int], None] | None = None,
        name: str = "",
        page_url: str = "",
    ) -> tuple[Outcome, int]:
        """Index one file's bytes under ``source``; return the outcome and its chunk count.

        An unchanged file is skipped unless ``force``. Raises ``IngestionError``
        (``UnsupportedFormat`` for an unknown type) on bad input; nothing is written then.
        ``embedded(done, total)`` is called after each batch of passages is embedded.
        ``name`` picks the loader when ``source`` does not (a URL without an extension);
        citations link to ``page_url`` when given (a crawled page), else, for a file of a
        folder (``origin``) published as a site, to its page there.
        """
        content_hash = hashlib.sha256(data).hexdigest()
        existing = self._repo.get_by_source(source)
        if (
            not force
            and existing is not None
            and existing.status == "completed"
            and existing.content_hash == content_hash
            and existing.fingerprint == self.fingerprint
        ):
            return "unchanged", existing.chunk_count
        publication = self._publication if origin and not page_url else None
        doc = load_bytes(data, name or source, publication.heading_ids if publication else "github")
        if not doc.sections:
            raise IngestionError(f"{source}: no text found (empty file?)")
        chunks = chunk_document(
            doc,
            source=source,
            content_hash=content_hash,
            count_tokens=self._embedder.count_tokens,
            max_tokens=self._max_tokens,
            page_url=publication.url_of(source, doc.slug) if publication else page_url,
        )
        self._write_points(chunks, embedded)
        record = DocumentRecord(
            id=document_id_for(source),
            source=source,
            origin=origin,
            title=doc.title,
            media_type=doc.media_type,
            content_hash=content_hash,
            fingerprint=self.fingerprint,
            size_bytes=len(data),
        )
        replaced = self._repo.replace(record, chunks)
        if replaced:
            self._store.delete(replaced)
        return ("added" if existing is None or not existing.chunk_count else "updated"), len(chunks)

    def remove(self, source: str) -> bool:
        """Delete a document: rows first (it disappears at once), then its points."""
        ids = self._repo.remove(source)
        if ids:
            self._store.delete(ids)
        return bool(ids)

    def reconcile(self) -> dict[str, int]:
        """Repair what an interrupted run left: unowned points, documents missing points."""
        stored = self._store.ids()
        owned = self._repo.all_chunk_ids()
        orphans = sorted(stored - owned)
        if orphans:
            self._store.delete(orphans)
        lost = owned - stored
        forgotten = self._repo.forget_documents_of(lost) if lost else []
        if orphans or forgotten:
            log.warning(
                "reconciled index", extra={"orphans": len(orphans), "forgotten": len(forgotten)}
            )
        return {"orphan_points": len(orphans), "forgotten_documents": len(forgotten)}

    def _write_points(
        self, chunks: Sequence[Chunk], embedded: Callable[[int, int], None] | None = None
    ) -> None:
        """Embed and store ``chunks`` (under their new ids, not yet visible) a step at a time.

        Steps keep memory to one step's vectors whatever the file's size, and let a progress
        display move within a large file; the embedder batches inside each step as it would
        over the whole file.
        """
        for start in range(0, len(chunks), EMBED_STEP):
            step = chunks[start : start + EMBED_STEP]
            began = time.perf_counter()
            vectors = self.memo.embed([c.embedding_text for c in step], self._embedder.embed)
            self.embedding_seconds += time.perf_counter() - began
            self._store.upsert(
                [
                    IndexedChunk(
                        c, tuple(v.tolist()), self._lexical.encode_document(c.embedding_text)
                    )
                    for c, v in zip(step, vectors, strict=True)
                ]
            )
            if embedded:
                embedded(start + len(step), len(chunks))

    def _ingest_job(
        self, job: Job, report: IngestReport, progress: IngestProgress | None = None
    ) -> Outcome:
        embed_before = self.embedding_seconds

        def embedded(done: int, total: int) -> None:
            if progress:
                progress.passages_embedded(job.source, done, total)

        try:
            data = job.path.read_bytes()
            outcome, count = self.ingest_bytes(data, job.source, job.origin, embedded=embedded)
        except UnsupportedFormat as exc:
            report.skipped.append({"source": job.source, "reason": str(exc)})
            return "skipped"
        except (RagChatbotError, OSError) as exc:
            log.warning("ingest failed", extra={"source": job.source, "reason": str(exc)})
            report.failed.append({"source": job.source, "reason": str(exc)})
            return "failed"
        finally:
            report.embedding_seconds += self.embedding_seconds - embed_before
        setattr(report, outcome, getattr(report, outcome) + 1)
        report.chunks += count
        return outcome
