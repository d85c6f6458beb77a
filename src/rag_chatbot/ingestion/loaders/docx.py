"""Word ``.docx`` files, read with python-docx: sections at the "Title"/"Heading N" styles."""

from __future__ import annotations

import io
import re

import docx
from docx.document import Document
from docx.table import Table
from docx.text.paragraph import Paragraph

from rag_chatbot.domain import LoadedDocument, Section
from rag_chatbot.errors import IngestionError
from rag_chatbot.ingestion.loaders.archive import check_zip
from rag_chatbot.ingestion.loaders.sections import (
    Anchors,
    SectionBuilder,
    collapse_whitespace,
    empty_document,
    title_from_name,
)

_HEADING_STYLE = re.compile(r"heading ([1-9])", re.IGNORECASE)
_LIST_STYLE = re.compile(r"list (?:bullet|number)(?: ([2-9]))?", re.IGNORECASE)
# Word has no standard code style; these are the names people and converters (pandoc) use.
_CODE_STYLE = re.compile(r"code|preformatted|verbatim|macro text", re.IGNORECASE)
_TITLE_LEVEL = 0  # the "Title" style sits above Heading 1


class DocxLoader:
    """Loads ``.docx`` files.

    Title: the document property, else the first "Title"-style paragraph, else the file name.
    Anchors are slugs of the headings. A file that is not a Word document raises
    ``IngestionError``; so does one over a limit of ``archive.check_zip`` (200 MB unpacked,
    100 MB or 2 million XML elements in one part).
    """

    media_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

    def load(self, data: bytes, name: str) -> LoadedDocument:
        if not data.strip():
            return empty_document(name, self.media_type)
        check_zip(data, "DOCX", name)
        document = _open(data)
        feeder = _DocxFeeder()
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                feeder.paragraph(block)
            else:
                feeder.table(block)
        sections = feeder.finish()
        title = (
            collapse_whitespace(document.core_properties.title or "")
            or feeder.title
            or title_from_name(name)
        )
        return LoadedDocument(title=title, sections=sections, media_type=self.media_type)


def _open(data: bytes) -> Document:
    try:
        return docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors, ...
        raise IngestionError(f"not a valid DOCX file: {exc!r}") from exc


class _DocxFeeder:
    """Turns paragraphs and tables into SectionBuilder calls.

    Runs of list paragraphs become one list block; runs of code-style paragraphs one code block.
    """

    def __init__(self) -> None:
        self.title = ""
        self._out = SectionBuilder()
        self._anchors = Anchors()
        self._list_depth = 0
        self._code: list[str] = []

    def paragraph(self, paragraph: Paragraph) -> None:
        style = (paragraph.style.name if paragraph.style is not None else None) or ""
        if _CODE_STYLE.search(style):
            self._end_list()
            self._code.append(paragraph.text.rstrip())
            return
        self._end_code()
        text = collapse_whitespace(paragraph.text)
        if not text:
            return
        depth = _list_depth(paragraph, style)
        self._set_list_depth(depth)
        if depth:
            self._out.list_item()
            self._out.block(text)
        elif (level := _heading_level(style)) is not None:
            self.title = self.title or (text if level == _TITLE_LEVEL else "")
            self._out.heading(level, text, self._anchors.slug(text))
        else:
            self._out.block(text)

    def table(self, table: Table) -> None:
        self._end_code()
        self._end_list()
        rows = []
        for row in table.rows:
            cells, seen = [], set()
            for cell in row.cells:
                # A merged cell is returned once per grid column it spans.
                if id(cell._tc) not in seen:
                    seen.add(id(cell._tc))
                    cells.append(collapse_whitespace(cell.text))
            if any(cells):
                rows.append(" | ".join(cells))
        self._out.block("\n".join(rows))

    def finish(self) -> tuple[Section, ...]:
        self._end_code()
        self._end_list()
        return self._out.sections()

    def _set_list_depth(self, depth: int) -> None:
        while self._list_depth < depth:
            self._out.open_list()
            self._list_depth += 1
        while self._list_depth > depth:
            self._out.close_list()
            self._list_depth -= 1

    def _end_list(self) -> None:
        self._set_list_depth(0)

    def _end_code(self) -> None:
        if self._code:
            self._out.block("\n".join(self._code).strip("\n"), verbatim=True)
            self._code = []


def _heading_level(style: str) -> int | None:
    if style.lower() == "title":
        return _TITLE_LEVEL
    match = _HEADING_STYLE.fullmatch(style)
    return int(match.group(1)) if match else None


def _list_depth(paragraph: Paragraph, style: str) -> int:
    """1 + the nesting level of a list paragraph; 0 for any other paragraph."""
    properties = paragraph._p.pPr
    numbering = properties.numPr if properties is not None else None
    if numbering is not None:
        # python-docx types numPr as its descriptor, not the element it returns.
        level = numbering.ilvl  # type: ignore[attr-defined]
        return int(level.val if level is not None else 0) + 1
    match = _LIST_STYLE.fullmatch(style)
    if match is None:
        return 0
    return int(match.group(1) or 1)
