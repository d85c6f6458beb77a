"""OpenDocument text (``.odt``: LibreOffice, OpenOffice), read with odfpy.

Headings are ``text:h`` elements with their outline level, so sections follow the document's
own outline whatever the styles are called. odfpy builds a pure-Python tree, about 560 bytes
and 25 µs an element (measured here), four times lxml's cost: hence a lower element limit than
DOCX's, checked over all parts together (see ``zip_nodes``) before odfpy reads any of them.
"""

from __future__ import annotations

import io
import re

from odf import opendocument, teletype
from odf.element import Element
from odf.namespaces import DCNS, STYLENS, TABLENS, TEXTNS
from odf.opendocument import OpenDocument
from odf.table import TableRow

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
from rag_chatbot.ingestion.loaders.zip_nodes import check_total_nodes

# Elements in all the parts of one file: ~280 MB of odfpy tree and ~13 s to load at the limit.
# A 500-page book of 20 paragraphs a page, a few spans each, is some 50,000 elements.
MAX_ODF_NODES = 500_000

_CODE_STYLE = re.compile(r"code|preformatted|verbatim|source text", re.IGNORECASE)
# Generated indexes (and every "...-index") repeat what the document already holds.
_INDEXES = {"table-of-content", "bibliography"}
_CONTAINERS = {"section", "index-body", "list-header", "list-item"}


class OdtLoader:
    """Loads ``.odt`` files.

    Title: the ``dc:title`` metadata, else the first "Title"-style paragraph, else the first
    heading, else the file name. Anchors are slugs of the headings. A file that is not an
    OpenDocument text, or is over a limit of ``archive.check_zip`` or ``MAX_ODF_NODES``
    elements in all, raises ``IngestionError``.
    """

    media_type = "application/vnd.oasis.opendocument.text"

    def load(self, data: bytes, name: str) -> LoadedDocument:
        if not data.strip():
            return empty_document(name, self.media_type)
        check_zip(data, "ODT", name, node_limit=MAX_ODF_NODES)
        check_total_nodes(data, name or "ODT file", MAX_ODF_NODES)
        document = _open(data, name)
        feeder = _OdtFeeder(_parent_styles(document))
        try:
            for body in document.body.childNodes:
                feeder.walk(body)
        except RecursionError as exc:  # expat, unlike libxml2, sets no depth limit
            raise IngestionError(f"{name}: elements nested too deeply to read") from exc
        sections = feeder.finish()
        title = _metadata_title(document) or feeder.title or title_from_name(name)
        return LoadedDocument(title=title, sections=sections, media_type=self.media_type)


def _refuse_broken_part(*_printed: object) -> None:
    raise IngestionError("a part is not well-formed XML")


# odfpy prints a part it cannot parse, whole, to stdout and goes on without it: its one print
# is made to fail the load instead (the name resolves in its module before the builtin).
opendocument.print = _refuse_broken_part


def _open(data: bytes, name: str) -> OpenDocument:
    try:
        document = opendocument.load(io.BytesIO(data))
    except Exception as exc:  # odfpy raises KeyError, UnicodeDecodeError, ...
        reason = str(exc) if isinstance(exc, IngestionError) else repr(exc)
        raise IngestionError(f"{name}: not a valid ODT file: {reason}") from exc
    if not str(document.mimetype).startswith("application/vnd.oasis.opendocument.text"):
        raise IngestionError(f"{name}: not an OpenDocument text but {document.mimetype!r}")
    return document


def _parent_styles(document: OpenDocument) -> dict[str, str]:
    """Automatic style name -> the named style it derives from (``P3`` -> ``Title``)."""
    parents = {}
    for style in document.automaticstyles.childNodes:
        parent = _attribute(style, STYLENS, "parent-style-name")
        if parent:
            parents[_attribute(style, STYLENS, "name")] = parent
    return parents


def _metadata_title(document: OpenDocument) -> str:
    for item in document.meta.childNodes:
        if getattr(item, "qname", None) == (DCNS, "title"):
            return collapse_whitespace(teletype.extractText(item))
    return ""


def _attribute(element: Element, namespace: str, name: str) -> str:
    return str(element.attributes.get((namespace, name), ""))


class _OdtFeeder:
    """Turns the body's elements into SectionBuilder calls, in document order."""

    def __init__(self, parents: dict[str, str]) -> None:
        self.title = ""
        self._first_heading = ""
        self._parents = parents
        self._out = SectionBuilder()
        self._anchors = Anchors()
        self._code: list[str] = []

    def walk(self, element: Element) -> None:
        for child in element.childNodes:
            namespace, tag = getattr(child, "qname", ("", ""))
            if namespace == TEXTNS and tag == "p" and _CODE_STYLE.search(self._style(child)):
                self._code.append(teletype.extractText(child).rstrip())
                continue
            self._end_code()
            if namespace == TABLENS and tag == "table":
                self._table(child)
            elif namespace != TEXTNS or tag in _INDEXES or tag.endswith("-index"):
                continue
            elif tag == "h":
                self._heading(child)
            elif tag == "p":
                self._paragraph(child)
            elif tag == "list":
                self._out.open_list()
                self.walk(child)
                self._end_code()
                self._out.close_list()
            elif tag in _CONTAINERS:
                if tag == "list-item":
                    self._out.list_item()
                self.walk(child)

    def finish(self) -> tuple[Section, ...]:
        self._end_code()
        self.title = self.title or self._first_heading
        return self._out.sections()

    def _heading(self, element: Element) -> None:
        text = collapse_whitespace(teletype.extractText(element))
        if not text or self._out.in_list:
            self._out.block(text)
            return
        level = _attribute(element, TEXTNS, "outline-level")
        self._first_heading = self._first_heading or text
        self._out.heading(int(level) if level.isdigit() else 1, text, self._anchors.slug(text))

    def _paragraph(self, element: Element) -> None:
        text = collapse_whitespace(teletype.extractText(element))
        if text and self._style(element).lower() == "title":
            # The "Title" style sits above the headings, as in DOCX.
            self.title = self.title or text
            self._out.heading(0, text, self._anchors.slug(text))
        else:
            self._out.block(text)

    def _table(self, table: Element) -> None:
        rows = []
        for row in table.getElementsByType(TableRow):  # also those in header and row groups
            cells = [
                collapse_whitespace(teletype.extractText(cell))
                for cell in row.childNodes
                if getattr(cell, "qname", None) == (TABLENS, "table-cell")
            ]
            if any(cells):
                rows.append(" | ".join(cells))
        self._out.block("\n".join(rows))

    def _style(self, element: Element) -> str:
        name = _attribute(element, TEXTNS, "style-name")
        # Named styles encode a space in their name as "_20_" ("Preformatted_20_Text").
        return self._parents.get(name, name).replace("_20_", " ")

    def _end_code(self) -> None:
        if self._code:
            self._out.block("\n".join(self._code).strip("\n"), verbatim=True)
            self._code = []
