"""DocumentService: uploads, deletion and re-indexing, as the API offers them.

Uploads are kept in ``DATA_DIR/uploads`` so a re-index can read them again; documents
ingested from a directory are re-read from that directory. Ingestion runs in the
background: the document is listed as ``processing`` at once, then ``completed`` or
``failed`` with the reason, whatever goes wrong; a document whose process died meanwhile is
failed by ``ProcessingWatch`` (see ``watch``).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from rag_chatbot.db.models import DocumentRow
from rag_chatbot.db.repository import DocumentRepository
from rag_chatbot.errors import FileTooLarge, NotFound, RagChatbotError
from rag_chatbot.ingestion.chunking import document_id_for
from rag_chatbot.ingestion.pipeline import IngestionPipeline
from rag_chatbot.ingestion.planning import file_of
from rag_chatbot.ingestion.uploads import check_upload, safe_upload_name
from rag_chatbot.ingestion.watch import ProcessingWatch
from rag_chatbot.observability.metrics import record_ingest_failures

log = logging.getLogger(__name__)


class DocumentService:
    """Accepts uploads and runs their ingestion; deletes and re-indexes documents.

    Contract: ``accept_upload`` validates (size, type, content) before anything is written and
    raises ``FileTooLarge`` / ``UnsupportedFormat`` / ``InvalidInput``; on success the file is
    saved and the document listed as ``processing``, and ``process(source)`` (run in the
    background) indexes it; it ends ``completed`` or ``failed``, never raises. One ingestion
    runs at a time in a process; ``watch`` keeps the accepted documents' leases fresh.
    """

    def __init__(
        self,
        pipeline: IngestionPipeline,
        repository: DocumentRepository,
        uploads_dir: Path,
        max_upload_bytes: int,
        watch: ProcessingWatch,
    ) -> None:
        self._pipeline = pipeline
        self.watch = watch
        self._repo = repository
        self._uploads = uploads_dir
        self.max_upload_bytes = max_upload_bytes
        self._lock = threading.Lock()

    def accept_upload(self, data: bytes, filename: str | None) -> DocumentRow:
        if len(data) > self.max_upload_bytes:
            raise FileTooLarge(f"the file is larger than {self.max_upload_bytes} bytes")
        source = safe_upload_name(filename)
        check_upload(data, source)
        self._uploads.mkdir(parents=True, exist_ok=True)
        path = self._uploads / source
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        partial.replace(path)  # a reader of uploads/ never sees half a file
        self.watch.hold(source)  # released by ``process``, which the caller must schedule
        try:
            return self._repo.mark_processing(document_id_for(source), source, size_bytes=len(data))
        except BaseException:
            self.watch.release(source)
            raise

    def process(self, source: str, *, force: bool = False) -> None:
        """Index the upload ``accept_upload`` accepted as ``source`` (see ``_index``)."""
        try:
            self._index(source, force=force)
        finally:
            self.watch.release(source)

    def _index(self, source: str, *, force: bool) -> None:
        """Index the stored file of ``source``; record the failure reason if anything fails.

        A deliberate error (``RagChatbotError``, ``OSError``) is recorded as it is worded; any
        other is a bug or a library's surprise: its traceback goes to the log and the document
        gets a short reason that names only the exception's type.
        """
        with self._lock:
            try:
                path = self._file_of(source)
                data = path.read_bytes()
                self._pipeline.ingest_bytes(data, source, self._origin_of(source), force=force)
            except (RagChatbotError, OSError) as exc:
                log.warning("document failed", extra={"source": source, "reason": str(exc)})
                self._fail(source, str(exc))
            except Exception as exc:
                log.exception("document failed unexpectedly", extra={"source": source})
                self._fail(source, f"internal error ({type(exc).__name__}); see the server log")
            self._pipeline.publish_index_size()

    def _fail(self, source: str, reason: str) -> None:
        self._repo.mark_failed(source, reason)
        record_ingest_failures()

    def delete(self, document_id: str) -> None:
        row = self._repo.get(document_id)
        if row is None:
            raise NotFound(f"document {document_id} not found")
        with self._lock:
            self._pipeline.remove(row.source)
            upload = self._uploads / row.source
            if not row.origin and upload.is_file():
                upload.unlink()
            self._pipeline.publish_index_size()

    def sources(self) -> list[str]:
        return [row.source for row in self._repo.list_documents()]

    def reindex_all(self) -> None:
        """Re-read and re-embed every document (after a model or chunking change)."""
        for source in self.sources():
            self._index(source, force=True)

    def _origin_of(self, source: str) -> str:
        row = self._repo.get_by_source(source)
        return row.origin if row is not None else ""

    def _file_of(self, source: str) -> Path:
        origin = self._origin_of(source)
        return file_of(origin, source) if origin else self._uploads / source
