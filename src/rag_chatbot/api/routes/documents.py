"""Documents: upload (ingested in the background), list, read, delete, re-index."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, BackgroundTasks, Query, Response, UploadFile

from rag_chatbot.api.openapi import errors
from rag_chatbot.api.schemas import DocumentOut, ReindexOut
from rag_chatbot.api.security import AdminDep
from rag_chatbot.dependencies import DocumentRepositoryDep, DocumentsDep
from rag_chatbot.errors import FileTooLarge, NotFound

router = APIRouter(prefix="/api/documents", tags=["documents"])

_READ_SIZE = 1 << 20


@router.post("", response_model=DocumentOut, status_code=202, responses=errors(415))
async def upload(
    file: UploadFile, tasks: BackgroundTasks, documents: DocumentsDep, _: AdminDep
) -> DocumentOut:
    """Upload one file (admin); it is listed as ``processing`` until its ingestion ends."""
    limit = documents.max_upload_bytes
    data = bytearray()
    while chunk := await file.read(_READ_SIZE):
        data += chunk
        if len(data) > limit:
            raise FileTooLarge(f"the file is larger than {limit} bytes")
    row = documents.accept_upload(bytes(data), file.filename)
    tasks.add_task(documents.process, row.source)
    return DocumentOut.model_validate(row)


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
def reindex(tasks: BackgroundTasks, documents: DocumentsDep, _: AdminDep) -> dict[str, object]:
    """Re-read and re-embed every document in the background (admin)."""
    count = len(documents.sources())
    tasks.add_task(documents.reindex_all)
    return {"status": "accepted", "documents": count}
