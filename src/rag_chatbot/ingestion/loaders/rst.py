"""reStructuredText files (``.rst``, Sphinx and docutils sources), parsed with docutils.

docutils builds the document tree, with the Sphinx roles and directives it does not know read
leniently (``rst_parser``); each section becomes a section whose anchor is the ``id`` docutils
gave it, which is the ``id`` of the section in the built HTML: an explicit label
(``.. _my-label:``) when the section has one, else ``nodes.make_id`` of its title, with
Sphinx's ``id1``, ``id2`` for a title used twice. Paragraphs, lists, tables, literal blocks and
admonitions become text; comments, targets and error reports do not.

The parse is safe on untrusted files: ``.. include::`` and ``.. raw::`` are off, no
``docutils.conf`` is read, and no message is printed or raised, whatever the markup holds.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.core import publish_doctree

from rag_chatbot.domain import LoadedDocument
from rag_chatbot.errors import IngestionError
from rag_chatbot.ingestion.loaders.rst_parser import REF_LABEL, SphinxTolerantParser
from rag_chatbot.ingestion.loaders.sections import (
    SectionBuilder,
    collapse_whitespace,
    empty_document,
    title_from_name,
)
from rag_chatbot.ingestion.loaders.text import decode_text

# docutils refuses a whole document that has one longer line (its regular expressions are
# slow on very long lines); we say so instead of indexing nothing.
MAX_LINE_CHARS = 10_000

_SETTINGS: dict[str, Any] = {
    "report_level": 5,  # no message is reported ...
    "halt_level": 5,  # ... or raised
    "warning_stream": False,
    "traceback": True,  # an exception propagates instead of calling sys.exit
    "_disable_config": True,  # no docutils.conf from the working directory
    "file_insertion_enabled": False,  # ".. include:: /etc/passwd"
    "raw_enabled": False,
    "input_encoding": "unicode",
    "syntax_highlight": "none",
    "line_length_limit": MAX_LINE_CHARS,
    # Sphinx's settings, so the ids are the ones a Sphinx build writes.
    "doctitle_xform": False,
    "sectsubtitle_xform": False,
}
_SKIPPED = (
    nodes.Invisible,  # comments, targets, substitution definitions, pending transforms
    nodes.docinfo,  # a leading field list: Sphinx's file-wide metadata (":orphan:")
    nodes.system_message,
    nodes.raw,
    nodes.image,
    nodes.transition,
)
_CODE = (nodes.literal_block, nodes.doctest_block, nodes.math_block)
_LISTS = (nodes.bullet_list, nodes.enumerated_list, nodes.definition_list, nodes.option_list)


class RstLoader:
    """Loads ``.rst`` files.

    Title: the ``.. title::`` directive, else the first section's title, else the file name.
    ``auto_id_prefix`` is docutils' setting for the ids of titles that give no id of their own
    or repeat one: ``id`` (Sphinx's, the default) or ``%`` (plain docutils').
    """

    media_type = "text/x-rst"

    def __init__(self, *, auto_id_prefix: str = "id") -> None:
        self._settings = {**_SETTINGS, "auto_id_prefix": auto_id_prefix}

    def load(self, data: bytes, name: str) -> LoadedDocument:
        text = decode_text(data)
        if not text.strip():
            return empty_document(name, self.media_type)
        for number, line in enumerate(text.splitlines(), start=1):
            if len(line) > MAX_LINE_CHARS:
                raise IngestionError(
                    f"{name}: line {number} is longer than {MAX_LINE_CHARS} characters, "
                    "more than docutils reads"
                )
        try:
            document = publish_doctree(
                text, parser=SphinxTolerantParser(), settings_overrides=self._settings
            )
        except Exception as exc:  # docutils raises many kinds on input it cannot take
            raise IngestionError(f"{name}: not valid reStructuredText: {exc!r}") from exc
        _show_reference_titles(document)
        out = SectionBuilder()
        _sections(document, out, level=0)
        first = document.next_node(nodes.section)
        title = str(document.get("title", "")) or (_title(first) if first else "")
        return LoadedDocument(title or title_from_name(name), out.sections(), self.media_type)


def section_anchor(section: nodes.Element) -> str:
    """The id a link to ``section`` uses: its first label's, else the one of its title."""
    ids: list[str] = section["ids"]
    return ids[1] if len(ids) > 1 else (ids[0] if ids else "")


def _show_reference_titles(document: nodes.document) -> None:
    """A bare ``:ref:`label``` reads as the labelled section's title, as Sphinx shows it."""
    for node in list(document.findall(nodes.inline)):
        label = node.get(REF_LABEL)
        if not label:
            continue
        target = document.ids.get(document.nameids.get(nodes.fully_normalize_name(label)) or "")
        if isinstance(target, nodes.section):
            node.children = []
            node += nodes.Text(_title(target))


def _title(section: nodes.Node) -> str:
    title = section.next_node(nodes.title)
    return collapse_whitespace(_inline_text(title)) if title else ""


def _sections(parent: nodes.Element, out: SectionBuilder, level: int) -> None:
    for child in parent.children:
        if isinstance(child, nodes.section):
            out.heading(level + 1, _title(child) or section_anchor(child), section_anchor(child))
            _sections(child, out, level + 1)
        elif isinstance(child, nodes.title) and isinstance(parent, nodes.section):
            continue
        else:
            _block(child, out)


def _block(node: nodes.Node, out: SectionBuilder) -> None:
    """Send one body element to ``out`` as text blocks."""
    if isinstance(node, _SKIPPED) or not isinstance(node, nodes.Element):
        return
    if isinstance(node, _CODE):
        out.block(node.astext().strip("\n").rstrip(), verbatim=True)
    elif isinstance(node, nodes.table):
        _table(node, out)
    elif isinstance(node, _LISTS):
        _list(node, out)
    elif isinstance(node, nodes.field_list):
        for field in node.children:
            _field(field, out)
    elif isinstance(node, (nodes.Admonition, nodes.footnote, nodes.citation)):
        _labelled(node, out)
    elif isinstance(node, nodes.TextElement):  # paragraph, title, rubric, caption, line, ...
        out.block(collapse_whitespace(_inline_text(node)))
    else:  # block quotes, topics, sidebars, figures, line blocks, containers
        for child in node.children:
            _block(child, out)


def _labelled(node: nodes.Element, out: SectionBuilder) -> None:
    """An admonition ("Note: ...") or a footnote ("[1] ...") with its label before its text.

    A generic ``.. admonition:: Title`` has its title as its first child instead.
    """
    children = list(node.children)
    if isinstance(node, nodes.admonition):
        label = ""
    elif isinstance(node, nodes.Admonition):
        label = f"{node.tagname.capitalize()}:"
    else:
        label = f"[{children.pop(0).astext()}]" if children else ""
    if label and children and isinstance(children[0], nodes.paragraph):
        first = collapse_whitespace(_inline_text(children.pop(0)))
        label = f"{label} {first}"
    out.block(label)
    for child in children:
        _block(child, out)


def _list(node: nodes.Element, out: SectionBuilder) -> None:
    out.open_list()
    for item in node.children:
        out.list_item()
        for child in item.children if isinstance(item, nodes.Element) else ():
            if isinstance(child, (nodes.term, nodes.option_group)):
                out.block(collapse_whitespace(_inline_text(child)))
            else:
                _block(child, out)
    out.close_list()


def _field(field: nodes.Node, out: SectionBuilder) -> None:
    """A field ("name: value") or a bibliographic field docutils made an element of."""
    if isinstance(field, nodes.field) and len(field.children) == 2:
        name, body = field.children
        out.block(f"{collapse_whitespace(name.astext())}: {collapse_whitespace(body.astext())}")
    elif isinstance(field, nodes.Element):
        out.block(f"{field.tagname.capitalize()}: {collapse_whitespace(field.astext())}")


def _table(node: nodes.Element, out: SectionBuilder) -> None:
    title = node.next_node(nodes.title)
    if title is not None and title.parent is node:
        out.block(collapse_whitespace(_inline_text(title)))
    rows = []
    for row in node.findall(nodes.row):
        cells = [collapse_whitespace(entry.astext()) for entry in row.children]
        if any(cells):
            rows.append(" | ".join(cells))
    out.block("\n".join(rows))


def _inline_text(node: nodes.Node) -> str:
    """The text of inline markup: a footnote reference as "[1]", images and messages as
    nothing."""
    if isinstance(node, nodes.Text):
        return str(node)
    if isinstance(node, (nodes.image, nodes.system_message, nodes.raw, nodes.target)):
        return "" if not isinstance(node, nodes.target) else node.astext()
    if isinstance(node, (nodes.footnote_reference, nodes.citation_reference)):
        return f"[{node.astext()}]"
    return "".join(_inline_text(child) for child in node.children) if node.children else ""
