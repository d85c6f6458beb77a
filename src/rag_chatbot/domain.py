"""Frozen value types shared by ingestion, retrieval and answering.

They carry no behaviour beyond derived views (a chunk's URL, the text that gets embedded), so any
layer may build or read them without importing another layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

SECTION_SEPARATOR = " > "


@dataclass(frozen=True)
class Section:
    """A run of a document's text under one heading.

    ``heading_path`` is the chain of headings from the top of the document down to this section
    (empty for text before the first heading); ``anchor`` is the fragment that opens it in the
    reader (an HTML ``id``, a slug of the heading, or ``page-N`` for PDF pages).
    Paragraphs in ``text`` are separated by blank lines; code blocks keep their line breaks.
    """

    heading_path: tuple[str, ...]
    anchor: str
    text: str


@dataclass(frozen=True)
class LoadedDocument:
    """What a loader returns: the document's title and its sections in reading order.

    ``slug`` is the page's own URL part from its front matter (Docusaurus ``slug``, else
    ``id``), '' when it has none; ``ingestion.site_urls`` turns it into the published URL.
    """

    title: str
    sections: tuple[Section, ...]
    media_type: str
    slug: str = ""


def reader_url(source: str, anchor: str) -> str:
    """The web reader's address of a section: ``/read/{source}#{anchor}``."""
    url = "/read/" + quote(source, safe="/")
    return f"{url}#{quote(anchor, safe='-_.')}" if anchor else url


@dataclass(frozen=True)
class Chunk:
    """A piece of a section small enough for the embedding model's window."""

    id: str
    document_id: str
    source: str
    title: str
    section_path: tuple[str, ...]
    anchor: str
    position: int
    text: str
    # The published page the document is (a crawled page's URL, or a file's page on the site
    # built from it); "" when the document lives only here.
    page_url: str = ""

    @property
    def section(self) -> str:
        return SECTION_SEPARATOR.join(self.section_path)

    @property
    def url(self) -> str:
        """Where a citation links: the section on the published page, else in the reader;
        empty for text of no document (a reader's selection)."""
        if self.page_url:
            return (
                f"{self.page_url}#{quote(self.anchor, safe='-_.')}"
                if self.anchor
                else self.page_url
            )
        return reader_url(self.source, self.anchor) if self.document_id else ""

    @property
    def heading(self) -> str:
        """Title and section path: the context a passage is embedded and indexed with."""
        parts = [self.title, *self.section_path]
        # Loaders often repeat the title as the first heading; say it once.
        deduped = [p for i, p in enumerate(parts) if p and (i == 0 or p != parts[i - 1])]
        return SECTION_SEPARATOR.join(deduped)

    @property
    def embedding_text(self) -> str:
        return f"{self.heading}\n{self.text}" if self.heading else self.text


@dataclass(frozen=True)
class SparseVector:
    """Term weights keyed by term id, as a lexical index stores them."""

    indices: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class IndexedChunk:
    """A chunk with the vectors the vector store keeps for it."""

    chunk: Chunk
    dense: tuple[float, ...]
    sparse: SparseVector


@dataclass(frozen=True)
class ScoredChunk:
    """A chunk found by a search, with the score of the ranking that found it (higher is better)."""

    chunk: Chunk
    score: float


@dataclass(frozen=True)
class Citation:
    """One numbered source of an answer (contract: the fields of ``citations[]`` in /api/chat)."""

    n: int
    source: str
    title: str
    section: str
    url: str
    quote: str
    score: float


@dataclass(frozen=True)
class Answer:
    """An answer with its citations; ``grounded`` is false when the documents do not support one."""

    answer: str
    grounded: bool
    citations: tuple[Citation, ...] = field(default_factory=tuple)
    generator: str = "extractive"
    # How sure retrieval is that the documents answer the question (0..1, ``grounding``);
    # None when not measured (an answer about a selected text).
    confidence: float | None = None


def normalize_question(text: str) -> str:
    """The form questions are compared in: lower case, runs of whitespace made one space.

    Two questions in this form are one cache entry, and one entry of the most frequent
    questions (``ChatRepository.frequent_questions``, which the cache is warmed with).
    """
    return " ".join(text.lower().split())
