"""EPUB books, read with ebooklib: each spine document goes through the HTML extractor."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import PurePosixPath

import ebooklib
from ebooklib import epub

from rag_chatbot.domain import LoadedDocument, Section
from rag_chatbot.errors import IngestionError
from rag_chatbot.ingestion.loaders.archive import check_zip
from rag_chatbot.ingestion.loaders.html import HtmlContent, extract_html
from rag_chatbot.ingestion.loaders.limits import MAX_HTML_NODES
from rag_chatbot.ingestion.loaders.sections import (
    Anchors,
    collapse_whitespace,
    empty_document,
    slugify,
    title_from_name,
)


class EpubLoader:
    """Loads ``.epub`` books, chapters in spine (reading) order.

    Title: the ``dc:title`` metadata, else the first chapter's title, else the file name.
    Chapters keep their own heading paths. Anchors are the chapters' ids; one already used by
    an earlier chapter is prefixed with the chapter's file name (``chap2-intro``), and text
    before a chapter's first heading is anchored at that file name. A file that is not an EPUB,
    or is over a limit of ``archive.check_zip`` (200 MB unpacked, 100 MB or 500,000 elements
    in one part), raises ``IngestionError``.
    """

    media_type = "application/epub+zip"

    def load(self, data: bytes, name: str) -> LoadedDocument:
        if not data.strip():
            return empty_document(name, self.media_type)
        check_zip(data, "EPUB", name, node_limit=MAX_HTML_NODES)
        book = _open(data)
        used = Anchors()
        sections: list[Section] = []
        first_title = ""
        for chapter_name, content in _chapters(book, name):
            first_title = first_title or (content.title or "")
            sections.extend(_unique_anchors(content.sections, chapter_name, used))
        title = _metadata_title(book) or first_title or title_from_name(name)
        return LoadedDocument(title=title, sections=tuple(sections), media_type=self.media_type)


def _open(data: bytes) -> epub.EpubBook:
    try:
        # ignore_ncx: the EPUB 2 table of contents is not needed, and the default warns.
        return epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    except Exception as exc:  # ebooklib raises EpubException, KeyError, lxml errors, ...
        raise IngestionError(f"not a valid EPUB file: {exc!r}") from exc


def _chapters(book: epub.EpubBook, name: str) -> Iterator[tuple[str, HtmlContent]]:
    """(chapter file stem, extracted content) for each document in the spine of ``name``."""
    for idref, _linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        stem = PurePosixPath(item.get_name()).stem
        markup = item.get_content()
        what = f"{name}: chapter {item.get_name()}"
        # Chapters are XHTML; reading them as XML keeps <a id="x"/> from swallowing what follows.
        content = extract_html(markup, xml=True, lead_anchor=slugify(stem), what=what)
        if not content.sections:
            content = extract_html(markup, lead_anchor=slugify(stem), what=what)
        yield stem, content


def _unique_anchors(
    sections: tuple[Section, ...], chapter: str, used: Anchors
) -> Iterator[Section]:
    for section in sections:
        anchor = section.anchor
        if anchor in used:
            anchor = used.unique(f"{slugify(chapter)}-{anchor}")
        else:
            used.claim(anchor)
        yield section if anchor == section.anchor else replace(section, anchor=anchor)


def _metadata_title(book: epub.EpubBook) -> str:
    for value, _attributes in book.get_metadata("DC", "title"):
        if title := collapse_whitespace(str(value or "")):
            return title
    return ""
