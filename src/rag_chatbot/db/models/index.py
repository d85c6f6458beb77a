"""Documents and their chunks (the index), and the index's version.

The relational store is the source of truth for what is visible: a chunk is searchable only
once its row is committed, so a document appears whole or not at all."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rag_chatbot.db.models.base import Base, utcnow


class DocumentRow(Base):
    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source: Mapped[str] = mapped_column(String(1024), unique=True)
    # The directory the document was ingested from ("" for single files and uploads): a
    # re-ingest of that directory prunes the documents whose files are gone.
    origin: Mapped[str] = mapped_column(String(2048), default="")
    title: Mapped[str] = mapped_column(String(1024), default="")
    media_type: Mapped[str] = mapped_column(String(128), default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    # What the chunks were built with (chunker version, window, embedding model): a change
    # re-indexes unchanged files too.
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="processing")
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    chunks: Mapped[list[ChunkRow]] = relationship(
        back_populates="document", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        # Named as in the operator's runbook (migration 0004), so its statements find them.
        Index("idx_documents_created_at", "created_at"),
        Index(
            "idx_documents_status",
            "status",
            postgresql_where=text("status = 'completed'"),
            sqlite_where=text("status = 'completed'"),
        ),
    )


class ChunkRow(Base):
    __tablename__ = "chunks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    document_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("documents.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(Text, default="")
    anchor: Mapped[str] = mapped_column(String(512), default="")
    text: Mapped[str] = mapped_column(Text)

    document: Mapped[DocumentRow] = relationship(back_populates="chunks")

    __table_args__ = (Index("ix_chunks_document_id_position", "document_id", "position"),)


class IndexStateRow(Base):
    """One row: ``version`` goes up in the transaction of every change to what is indexed.

    The response cache keys answers on it, so a new, changed or removed document makes every
    earlier answer unreachable at the moment the change becomes visible.
    """

    __tablename__ = "index_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer, default=0)
