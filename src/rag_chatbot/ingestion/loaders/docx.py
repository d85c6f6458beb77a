"""Word ``.docx`` files, read with python-docx: sections at headings.

A heading is a paragraph whose style is "Title" or "Heading 1".."Heading 9", or whose outline
level is set, on the paragraph itself or on its style or a style that style is based on (so a
custom or localized style derived from "Heading 2" is a level-2 heading).
"""

from __future__ import annotations

import io
import re

import docx
from docx.document import Document
from docx.oxml.ns import qn
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.styles.style import CharacterStyle
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
    slugify,
    title_from_name,
)

_HEADING_STYLE = re.compile(r"heading ([1-9])", re.IGNORECASE)
_LIST_STYLE = re.compile(r"list (?:bullet|number)(?: ([2-9]))?", re.IGNORECASE)
# Word has no standard code style; these are the names people and converters (pandoc) use.
_CODE_STYLE = re.compile(r"code|preformatted|verbatim|macro text", re.IGNORECASE)
_TITLE_LEVEL = 0  # the "Title" style sits above Heading 1
_BODY_OUTLINE = 9  # w:outlineLvl 0-8 are heading levels 1-9; 9 means body text
_STYLE_CHAIN_LIMIT = 16  # base styles followed at most (a file may even chain them in a loop)


class DocxLoader:
    """Loads ``.docx`` files.

    Title: the document property, else the first "Title"-style paragraph, else the first
    level-1 heading, else the file name. Heading paths nest by level; anchors are slugs of the
    headings, a repeated one suffixed ``-2``, ``-3``; text before the first heading has an
    empty path and anchor. A file that is not a Word document raises
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
            or feeder.first_heading
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
        self.first_heading = ""
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
        if (level := _heading_level(paragraph)) is not None:
            # A numbered heading is still a heading, not a list item.
            self._end_list()
            self.title = self.title or (text if level == _TITLE_LEVEL else "")
            self.first_heading = self.first_heading or (text if level == 1 else "")
            self._out.heading(level, text, _unique_slug(self._anchors, text))
            return
        depth = _list_depth(paragraph, style)
        self._set_list_depth(depth)
        if depth:
            self._out.list_item()
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


def _unique_slug(anchors: Anchors, text: str) -> str:
    """The heading's slug; the second heading with that slug gets ``-2``, the third ``-3``."""
    base = slugify(text) or "section"
    candidate, n = base, 1
    while candidate in anchors:
        n += 1
        candidate = f"{base}-{n}"
    return anchors.claim(candidate)


def _heading_level(paragraph: Paragraph) -> int | None:
    """0 for a title, 1-9 for a heading, None for any other paragraph.

    The paragraph's own outline level wins; then its style and the styles it is based on,
    nearest first, each by its name ("Title", "Heading N") or its outline level.
    """
    own = _outline_level(paragraph._p.pPr)
    if own is not None:
        return None if own == _BODY_OUTLINE else own + 1
    style: CharacterStyle | None = paragraph.style
    seen: set[int] = set()
    for _ in range(_STYLE_CHAIN_LIMIT):
        if style is None or id(style.element) in seen:
            return None
        seen.add(id(style.element))
        name = (style.name or "").strip()
        if name.lower() == "title":
            return _TITLE_LEVEL
        if match := _HEADING_STYLE.fullmatch(name):
            return int(match.group(1))
        outline = _outline_level(style.element.find(qn("w:pPr")))
        if outline is not None:
            return None if outline == _BODY_OUTLINE else outline + 1
        style = style.base_style
    return None


def _outline_level(properties: BaseOxmlElement | None) -> int | None:
    """The ``w:outlineLvl`` value (0-9) in a ``w:pPr`` element, or None if absent or invalid."""
    if properties is None:
        return None
    element = properties.find(qn("w:outlineLvl"))
    value = element.get(qn("w:val")) if element is not None else None
    try:
        level = int(value) if value is not None else None
    except ValueError:
        return None
    return level if level is not None and 0 <= level <= _BODY_OUTLINE else None


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
