"""PDF files, read with pypdf: one section a page, anchored ``page-N`` as PDF viewers expect."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import DependencyError, PyPdfError

from rag_chatbot.domain import LoadedDocument, Section
from rag_chatbot.errors import IngestionError
from rag_chatbot.ingestion.loaders.sections import (
    collapse_whitespace,
    empty_document,
    title_from_name,
)

logger = logging.getLogger(__name__)

_SENTENCE_END = (".", "!", "?", ":")
_MAX_TITLE_CHARS = 200
# A book is hundreds of pages; tens of thousands is a file built to exhaust the text extractor.
MAX_PAGES = 5000


class PdfLoader:
    """Loads ``.pdf`` files; pages without extractable text (scans) give no section.

    Title: the metadata ``/Title``, else the first line of text, else the file name. A file
    pypdf cannot parse, or one that needs a password, raises ``IngestionError``.
    """

    media_type = "application/pdf"

    def load(self, data: bytes, name: str) -> LoadedDocument:
        if not data.strip():
            return empty_document(name, self.media_type)
        reader = _open(data)
        pages = _page_texts(reader, name)
        sections = tuple(
            Section(heading_path=(f"Page {n}",), anchor=f"page-{n}", text="\n\n".join(paras))
            for n, text in pages
            if (paras := paragraphs_of(text))
        )
        title = _metadata_title(reader) or _first_line(pages) or title_from_name(name)
        return LoadedDocument(title=title, sections=sections, media_type=self.media_type)


def _open(data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
    except Exception as exc:  # pypdf raises many types on damaged files, not only PyPdfError
        raise IngestionError(f"not a valid PDF: {exc}") from exc
    if not reader.is_encrypted:
        return reader
    try:
        # Many PDFs are encrypted only against editing and open with the empty password.
        opened = reader.decrypt("")
    except (DependencyError, NotImplementedError, PyPdfError) as exc:
        raise IngestionError(f"PDF is encrypted and cannot be decrypted: {exc}") from exc
    if not opened:
        raise IngestionError("PDF is password-protected; remove the password and upload it again")
    return reader


def _page_texts(reader: PdfReader, name: str) -> list[tuple[int, str]]:
    """The text of each page with its 1-based number; unreadable pages are logged and skipped."""
    pages: list[tuple[int, str]] = []
    failures = 0
    try:
        page_list = list(reader.pages)
    except Exception as exc:
        raise IngestionError(f"not a valid PDF: cannot read its page tree ({exc})") from exc
    if len(page_list) > MAX_PAGES:
        raise IngestionError(f"the PDF has {len(page_list)} pages; the limit is {MAX_PAGES}")
    for n, page in enumerate(page_list, start=1):
        try:
            text = page.extract_text() or ""
        except Exception as exc:  # one damaged content stream should not lose the other pages
            failures += 1
            logger.warning(
                "pdf page unreadable", extra={"document": name, "page": n, "reason": str(exc)}
            )
            continue
        pages.append((n, text))
    if failures and not pages:
        raise IngestionError(f"not a valid PDF: none of its {failures} pages could be read")
    return pages


def paragraphs_of(page_text: str) -> list[str]:
    """Rebuild paragraphs from a page's text lines.

    PDFs store lines, not paragraphs: a paragraph ends at a blank line or at a line that ends a
    sentence while falling clearly short of the page's longest line.
    """
    lines = [line.strip() for line in page_text.splitlines()]
    width = max((len(line) for line in lines), default=0)
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        if line:
            # A hyphen at the end of a line joins the next without a space ("well-known").
            joiner = "" if current and current[-1].endswith("-") else " "
            current.append(joiner + line if current else line)
        if current and (not line or (line.endswith(_SENTENCE_END) and len(line) < 0.8 * width)):
            paragraphs.append(collapse_whitespace("".join(current)))
            current = []
    if current:
        paragraphs.append(collapse_whitespace("".join(current)))
    return [p for p in paragraphs if p]


def _metadata_title(reader: PdfReader) -> str:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception:  # damaged metadata should not stop the text from loading
        return ""
    return collapse_whitespace(str(title)) if title else ""


def _first_line(pages: list[tuple[int, str]]) -> str:
    for _, text in pages:
        for line in text.splitlines():
            if line := collapse_whitespace(line):
                return line if len(line) <= _MAX_TITLE_CHARS else ""
    return ""
