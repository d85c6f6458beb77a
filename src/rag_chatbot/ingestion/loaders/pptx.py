"""PowerPoint ``.pptx`` presentations, read with python-pptx: one section per slide.

A slide is the unit a person refers to ("slide 12"), so each slide is a section titled by its
title placeholder and anchored ``slide-N``; its text boxes, tables and speaker notes are the
text. python-pptx parses every slide, layout and master it reaches into an lxml tree, so the
elements of all parts together are bounded too (see ``zip_nodes``), not only each part's.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

import pptx
from pptx.presentation import Presentation
from pptx.shapes.base import BaseShape
from pptx.shapes.group import GroupShape
from pptx.slide import Slide
from pptx.text.text import TextFrame

from rag_chatbot.domain import LoadedDocument, Section
from rag_chatbot.errors import IngestionError
from rag_chatbot.ingestion.loaders.archive import check_zip
from rag_chatbot.ingestion.loaders.limits import MAX_XML_NODES
from rag_chatbot.ingestion.loaders.sections import (
    collapse_whitespace,
    empty_document,
    title_from_name,
)
from rag_chatbot.ingestion.loaders.zip_nodes import check_total_nodes


class PptxLoader:
    """Loads ``.pptx`` files.

    Title: the document property, else the first slide's title, else the file name. A slide
    without a title is headed "Slide N"; a slide without text gives no section. A file that
    is not a presentation, or is over a limit of ``archive.check_zip`` (200 MB unpacked,
    100 MB or 2 million XML elements in one part; 2 million elements in all), raises
    ``IngestionError``.
    """

    media_type = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

    def load(self, data: bytes, name: str) -> LoadedDocument:
        if not data.strip():
            return empty_document(name, self.media_type)
        check_zip(data, "PPTX", name)
        check_total_nodes(data, name or "PPTX file", MAX_XML_NODES)
        presentation = _open(data, name)
        sections = []
        first_title = ""
        for number, slide in enumerate(presentation.slides, start=1):
            title = _slide_title(slide)
            first_title = first_title or title
            text = "\n\n".join(_slide_blocks(slide))
            if text:
                sections.append(Section((title or f"Slide {number}",), f"slide-{number}", text))
        title = (
            collapse_whitespace(presentation.core_properties.title or "")
            or first_title
            or title_from_name(name)
        )
        return LoadedDocument(title=title, sections=tuple(sections), media_type=self.media_type)


def _open(data: bytes, name: str) -> Presentation:
    try:
        return pptx.Presentation(io.BytesIO(data))
    except Exception as exc:  # python-pptx raises KeyError, ValueError, lxml errors, ...
        raise IngestionError(f"{name}: not a valid PPTX file: {exc!r}") from exc


def _slide_title(slide: Slide) -> str:
    shape = slide.shapes.title
    return collapse_whitespace(shape.text_frame.text) if shape is not None else ""


def _slide_blocks(slide: Slide) -> Iterator[str]:
    """The slide's text, a block per shape in the slide's own order, then the notes."""
    title = slide.shapes.title
    title_id = title.shape_id if title is not None else None
    for shape in _flat(slide.shapes):
        if shape.shape_id != title_id and (text := _shape_text(shape)):
            yield text
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None and (text := _frame_text(notes)):
            yield text


def _flat(shapes: Iterable[BaseShape]) -> Iterator[BaseShape]:
    """Shapes in order, the members of a group in its place."""
    for shape in shapes:
        # isinstance, not shape_type: that raises for shapes python-pptx does not recognise.
        if isinstance(shape, GroupShape):
            yield from _flat(shape.shapes)
        else:
            yield shape


def _shape_text(shape: BaseShape) -> str:
    if shape.has_text_frame:
        return _frame_text(shape.text_frame)  # type: ignore[attr-defined]
    if shape.has_table:
        rows = []
        for row in shape.table.rows:  # type: ignore[attr-defined]
            # A merged cell's text is in its first cell; the cells it spans are empty.
            cells = [collapse_whitespace(c.text) for c in row.cells if not c.is_spanned]
            if any(cells):
                rows.append(" | ".join(cells))
        return "\n".join(rows)
    return ""


def _frame_text(frame: TextFrame) -> str:
    """A text frame a line a paragraph (bullet points are paragraphs), blank ones dropped."""
    lines = (collapse_whitespace(paragraph.text) for paragraph in frame.paragraphs)
    return "\n".join(line for line in lines if line)
