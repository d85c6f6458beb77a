"""Documents: upload (ingested in the background, as a job), list, read, delete, re-index."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, BackgroundTasks, Query, Response, UploadFile
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from rag_chatbot.api.openapi import errors
from rag_chatbot.api.routes.jobs import JobState
from rag_chatbot.api.schemas import DocumentOut, ReindexOut
from rag_chatbot.api.security import AdminDep
from rag_chatbot.dependencies import DocumentRepositoryDep, DocumentsDep, JobsDep
from rag_chatbot.errors import FileTooLarge, NotFound, RagChatbotError

router = APIRouter(prefix="/api/documents", tags=["documents"])

_READ_SIZE = 1 << 20


class JobRef(BaseModel):
    id: str
    state: JobState


class UploadOut(DocumentOut):
    job: JobRef  # its ingestion: GET /api/jobs/{id}


@router.post("", response_model=UploadOut, status_code=202, responses=errors(415, 503))
async def upload(
    file: UploadFile,
    tasks: BackgroundTasks,
    documents: DocumentsDep,
    repository: DocumentRepositoryDep,
    jobs: JobsDep,
    _: AdminDep,
) -> UploadOut:
    """Upload one file (admin); it is listed as ``processing`` until its ingestion job ends."""
    limit = documents.max_upload_bytes
    data = bytearray()
    while chunk := await file.read(_READ_SIZE):
        data += chunk
        if len(data) > limit:
            raise FileTooLarge(f"the file is larger than {limit} bytes")
    row = documents.accept_upload(bytes(data), file.filename)
    try:
        job = await run_in_threadpool(jobs.submit_upload, row.source)
    except RagChatbotError as exc:  # the broker is down: the upload is stored, not indexed
        documents.watch.release(row.source)
        repository.mark_failed(row.source, f"not queued: {exc}; upload it again or re-index")
        raise
    if jobs.inline:
        tasks.add_task(jobs.run_inline, row.source)
    shown = DocumentOut.model_validate(row).model_dump()
    return UploadOut(**shown, job=JobRef(id=job.id, state=job.state))  # type: ignore[arg-type]


@router.get("", response_model=list[DocumentOut])
def list_documents(
    repository: DocumentRepositoryDep,
    status: Literal["processing", "completed", "failed"] | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> list[DocumentOut]:
    """Documents, newest first, optionally only those with ``status``."""
    rows = repository.list_documents(status, limit=limit, offset=offset)
    return [DocumentOut.model_validate(row) for row in rows]


@router.get("/{document_id}", response_model=DocumentOut)
def get_document(document_id: str, repository: DocumentRepositoryDep) -> DocumentOut:
    row = repository.get(document_id)
    if row is None:
        raise NotFound(f"document {document_id} not found")
    return DocumentOut.model_validate(row)


@router.delete("/{document_id}", status_code=204)
def delete_document(document_id: str, documents: DocumentsDep, _: AdminDep) -> Response:
    """Delete a document (admin): its rows and its vectors go together."""
    documents.delete(document_id)
    return Response(status_code=204)


@router.post("/reindex", response_model=ReindexOut, status_code=202)
def reindex(
    tasks: BackgroundTasks, documents: DocumentsDep, jobs: JobsDep, _: AdminDep
) -> dict[str, object]:
    """Re-read and re-embed every document in the background, as a job (admin)."""
    count = len(documents.sources())
    jobs.submit_reindex()
    if jobs.inline:
        tasks.add_task(jobs.run_inline)
    return {"status": "accepted", "documents": count}
