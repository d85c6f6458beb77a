"""EPUB books, read with ebooklib: each spine document goes through the HTML extractor."""

from __future__ import annotations

import io
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from urllib.parse import unquote

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
    Each chapter's XHTML headings become sections as in ``extract_html``; their heading paths
    start with the chapter's title (its table-of-contents entry, else its ``<title>``) unless
    its own headings already name it. Anchors are the headings' ids, else their slugs; one
    already used by an earlier chapter is prefixed with the chapter's file name
    (``chap2-intro``), and text before a chapter's first heading is anchored at that file
    name. Manifest ids (``item_5``) are never anchors. A file that is not an EPUB,
    or is over a limit of ``archive.check_zip`` (200 MB unpacked, 100 MB or 500,000 elements
    in one part), raises ``IngestionError``.
    """

    media_type = "application/epub+zip"

    def load(self, data: bytes, name: str) -> LoadedDocument:
        if not data.strip():
            return empty_document(name, self.media_type)
        check_zip(data, "EPUB", name, node_limit=MAX_HTML_NODES)
        book = _open(data)
        book_title = _metadata_title(book)
        toc = _TocTitles(book)
        # Manifest ids ("item_5", "id123") name files inside the package, not places a reader
        # knows; a heading carrying one is anchored at its slug instead.
        manifest_ids = {str(item.get_id()) for item in book.get_items()}
        used = Anchors()
        sections: list[Section] = []
        first_title = ""
        for index, (chapter, content) in enumerate(_chapters(book, name), start=1):
            first_title = first_title or (content.title or "")
            title = toc.title(chapter.name) or content.title or ""
            if title.casefold() == book_title.casefold():
                title = ""  # every page titled with the book's name: not the chapter's own
            own = _readable_anchors(content.sections, chapter.slug, manifest_ids)
            own = _under_chapter_title(own, title)
            sections.extend(_unique_anchors(own, chapter.slug or f"chapter-{index}", used))
        title = book_title or first_title or title_from_name(name)
        return LoadedDocument(title=title, sections=tuple(sections), media_type=self.media_type)


def _open(data: bytes) -> epub.EpubBook:
    try:
        # ignore_ncx: the EPUB 2 table of contents is not needed, and the default warns.
        return epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    except Exception as exc:  # ebooklib raises EpubException, KeyError, lxml errors, ...
        raise IngestionError(f"not a valid EPUB file: {exc!r}") from exc


@dataclass(frozen=True)
class _Chapter:
    name: str  # the file's path in the package
    slug: str  # a slug of the file's base name: "chap2" for "Text/chap2.xhtml"


def _chapters(book: epub.EpubBook, name: str) -> Iterator[tuple[_Chapter, HtmlContent]]:
    """Each document in the spine of ``name``, in reading order, with its extracted content."""
    for idref, _linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        chapter = _Chapter(item.get_name(), slugify(PurePosixPath(item.get_name()).stem))
        markup = item.get_content()
        what = f"{name}: chapter {item.get_name()}"
        # Chapters are XHTML; reading them as XML keeps <a id="x"/> from swallowing what follows.
        content = extract_html(markup, xml=True, lead_anchor=chapter.slug, what=what)
        if not content.sections:
            content = extract_html(markup, lead_anchor=chapter.slug, what=what)
        yield chapter, content


class _TocTitles:
    """The title of each chapter file in the book's table of contents (its first entry)."""

    def __init__(self, book: epub.EpubBook) -> None:
        self._by_path: dict[str, str] = {}
        self._by_file: dict[str, str] = {}
        # ebooklib has already read the whole table; walking it iteratively keeps a deep one
        # from exhausting the stack.
        stack: list[object] = list(reversed(list(book.toc or ())))
        while stack:
            entry = stack.pop()
            if isinstance(entry, tuple | list):
                stack.extend(reversed(entry))
                continue
            href = str(getattr(entry, "href", "") or getattr(entry, "file_name", "") or "")
            title = collapse_whitespace(str(getattr(entry, "title", "") or ""))
            path = posixpath.normpath(unquote(href.split("#", 1)[0])) if href else ""
            if path and title:
                self._by_path.setdefault(path, title)
                self._by_file.setdefault(PurePosixPath(path).name, title)

    def title(self, chapter: str) -> str:
        path = posixpath.normpath(chapter)
        return self._by_path.get(path) or self._by_file.get(PurePosixPath(path).name, "")


def _readable_anchors(
    sections: tuple[Section, ...], chapter: str, manifest_ids: set[str]
) -> tuple[Section, ...]:
    """``sections`` with any anchor that is a manifest id replaced by its heading's slug."""
    taken = Anchors(s.anchor for s in sections)
    out = []
    for section in sections:
        if section.anchor in manifest_ids and section.anchor != chapter and section.heading_path:
            section = replace(section, anchor=taken.slug(section.heading_path[-1]))
        out.append(section)
    return tuple(out)


def _under_chapter_title(sections: tuple[Section, ...], title: str) -> tuple[Section, ...]:
    """Heading paths that start with the chapter's ``title``.

    A chapter whose own headings name it (``<h1>`` equal to the title) keeps its paths; only
    text before that heading is put under the title.
    """
    if not title:
        return sections
    key = title.casefold()
    named = any(key == heading.casefold() for s in sections for heading in s.heading_path)
    return tuple(
        replace(section, heading_path=(title, *section.heading_path))
        if not section.heading_path or not named
        else section
        for section in sections
    )


def _unique_anchors(
    sections: tuple[Section, ...], chapter: str, used: Anchors
) -> Iterator[Section]:
    """Anchors unique across the book: one an earlier chapter used gets the chapter's prefix."""
    for section in sections:
        anchor = section.anchor or chapter
        if anchor in used:
            anchor = used.unique(f"{chapter}-{anchor}")
        else:
            used.claim(anchor)
        yield section if anchor == section.anchor else replace(section, anchor=anchor)


def _metadata_title(book: epub.EpubBook) -> str:
    for value, _attributes in book.get_metadata("DC", "title"):
        if title := collapse_whitespace(str(value or "")):
            return title
    return ""
