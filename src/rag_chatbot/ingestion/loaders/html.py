"""HTML pages: the main content cut into sections at its headings.

``extract_html`` is also the EPUB loader's chapter reader. Parsing uses lxml through
BeautifulSoup; the walk over the tree is a single pass, so a page costs time linear in its size.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bs4 import BeautifulSoup, Tag, XMLParsedAsHTMLWarning
from bs4.element import PageElement

from rag_chatbot.domain import LoadedDocument, Section
from rag_chatbot.errors import IngestionError
from rag_chatbot.ingestion.loaders.html_anchors import explicit_anchor, page_ids
from rag_chatbot.ingestion.loaders.html_chrome import code_text, page_title, strip_heading_marks
from rag_chatbot.ingestion.loaders.html_content import (
    HEADING_LEVELS,
    Layout,
    is_dropped,
    is_text,
    page_layout,
)
from rag_chatbot.ingestion.loaders.limits import check_markup
from rag_chatbot.ingestion.loaders.sections import (
    Anchors,
    SectionBuilder,
    collapse_whitespace,
    empty_document,
    title_from_name,
)

_PREFORMATTED = frozenset({"pre", "xmp", "listing", "plaintext"})
# Elements that end the running paragraph; anything else is inline and flows into it.
_BLOCKS = frozenset(
    {
        "address", "article", "blockquote", "body", "caption", "center", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "header",
        "hgroup", "hr", "html", "li", "main", "ol", "p", "section", "summary", "table", "tbody",
        "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
# A table holding these is page layout, not data: walk it like any container.
_LAYOUT_MARKERS = [*HEADING_LEVELS, "table", *_PREFORMATTED]
# So is a list holding headings (Javadoc wraps each summary and detail section in an <li>).
_HEADINGS = list(HEADING_LEVELS)


@dataclass(frozen=True)
class HtmlContent:
    """What ``extract_html`` finds: the page title (None if it has none) and its sections."""

    title: str | None
    sections: tuple[Section, ...]


def parse_html(data: bytes | str, *, xml: bool = False, what: str = "HTML") -> BeautifulSoup:
    """Parse markup with lxml (its XML parser for XHTML when ``xml``); encoding is sniffed.

    Markup with more than ``limits.MAX_HTML_NODES`` nodes raises ``IngestionError`` naming
    ``what``, before BeautifulSoup builds its tree.
    """
    check_markup(data, what, html=not xml)
    with warnings.catch_warnings():
        # AsciiDoc pages start with <?xml ...?> yet are HTML; parsing them as HTML is intended.
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(data, "xml" if xml else "lxml")


def extract_html(
    data: bytes | str, *, xml: bool = False, lead_anchor: str = "", what: str = "HTML"
) -> HtmlContent:
    """Title and sections of a page's main content (see ``html_content`` for what is chrome,
    ``html_chrome`` for the permalink signs and code-block buttons left out of the text).

    Text before the first heading gets an empty heading path and ``lead_anchor``. If dropping
    chrome leaves nothing while the page has text, the page is read again keeping it.
    ``IngestionError`` (naming ``what``): markup over the limit of ``parse_html``.
    """
    soup = parse_html(data, xml=xml, what=what)
    layout = page_layout(soup)
    # Slugs must not collide with any id on the page, or the link would open the wrong place.
    ids = page_ids(soup)
    try:
        sections = _walk_sections(layout.root, layout.is_chrome, Anchors(ids), lead_anchor)
        if not sections:
            sections = _walk_sections(soup.body or soup, is_dropped, Anchors(ids), lead_anchor)
        title = _page_title(soup, layout)
    except RecursionError as exc:
        raise IngestionError("HTML is nested too deeply to read") from exc
    return HtmlContent(title=title, sections=sections)


class HtmlLoader:
    """Loads ``.html``/``.htm`` pages; anchors are heading ids where the page has them."""

    media_type = "text/html"

    def load(self, data: bytes, name: str) -> LoadedDocument:
        if not data.strip():
            return empty_document(name, self.media_type)
        content = extract_html(data, what=name)
        title = content.title or title_from_name(name)
        return LoadedDocument(title=title, sections=content.sections, media_type=self.media_type)


def _page_title(soup: BeautifulSoup, layout: Layout) -> str | None:
    """``<title>`` less the site name (see ``html_chrome.page_title``), else the own ``<h1>``.

    A banner's ``<h1>`` may be the site's name, so it does not choose which part of the title
    to keep; it is the title only of a page with no ``<title>``.
    """
    heading = ""
    if layout.title_heading is not None:
        heading = strip_heading_marks(_inline_text(layout.title_heading.children, is_dropped))
    title = soup.find("title")
    text = ""
    if isinstance(title, Tag) and title.find_parent("svg") is None:
        text = page_title(title.get_text(" "), "" if layout.title_in_banner else heading)
    return text or heading or None


def _walk_sections(
    root: Tag, skip: Callable[[Tag], bool], anchors: Anchors, lead_anchor: str
) -> tuple[Section, ...]:
    builder = SectionBuilder(lead_anchor)
    walker = _Walker(builder, anchors, skip)
    walker.walk(root)
    walker.flush()
    return builder.sections()


class _Walker:
    """One pass over the tree, feeding a SectionBuilder with headings and text blocks."""

    def __init__(self, out: SectionBuilder, anchors: Anchors, skip: Callable[[Tag], bool]) -> None:
        self._out = out
        self._anchors = anchors
        self._skip = skip
        self._inline: list[str] = []

    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, Tag):
                self._element(child)
            elif is_text(child):
                self._inline.append(str(child))

    def flush(self) -> None:
        text = collapse_whitespace("".join(self._inline))
        self._inline.clear()
        if text:
            self._out.block(text)

    def _element(self, tag: Tag) -> None:
        if self._skip(tag):
            return
        name = tag.name
        if name in HEADING_LEVELS and not self._out.in_list:
            self._heading(tag, HEADING_LEVELS[name])
        elif name in _PREFORMATTED:
            self.flush()
            self._out.block(code_text(tag, is_dropped), verbatim=True)
        elif name == "table" and tag.find(_LAYOUT_MARKERS) is None:
            self.flush()
            self._out.block(self._table_text(tag))
        elif name in ("ul", "ol") and (self._out.in_list or tag.find(_HEADINGS) is None):
            self._list(tag)
        elif name == "li" and self._out.in_list:
            self._list_item(tag)
        elif name == "br":
            self._inline.append(" ")
        elif name in _BLOCKS or name in HEADING_LEVELS:
            self.flush()
            self.walk(tag)
            self.flush()
        else:
            self.walk(tag)

    def _heading(self, tag: Tag, level: int) -> None:
        """Start a section; block content inside the heading is walked as body text.

        Unclosed headings (SQLite's ``<h2>Documentation</h1>``) swallow the rest of the page,
        so only the inline text before the first block element is taken as the title.
        """
        self.flush()
        children = list(tag.children)
        split = next((i for i, c in enumerate(children) if _is_block(c)), len(children))
        title = strip_heading_marks(_inline_text(children[:split], self._skip))
        if title:
            anchor = explicit_anchor(tag, children[:split])
            anchor = self._anchors.claim(anchor) if anchor else self._anchors.slug(title)
            self._out.heading(level, title, anchor)
        for child in children[split:]:
            if isinstance(child, Tag):
                self._element(child)
            elif is_text(child):
                self._inline.append(str(child))

    def _list(self, tag: Tag) -> None:
        self.flush()
        self._out.open_list()
        self.walk(tag)
        self.flush()
        self._out.close_list()

    def _list_item(self, tag: Tag) -> None:
        self.flush()
        self._out.list_item()
        self.walk(tag)
        self.flush()

    def _table_text(self, table: Tag) -> str:
        lines = []
        for row in _rows(table):
            cells = [self._flat_text(cell) for cell in row.find_all(["td", "th"], recursive=False)]
            if any(cells):
                lines.append(" | ".join(cells))
        caption = table.find("caption", recursive=False)
        if isinstance(caption, Tag) and (text := self._flat_text(caption)):
            lines.insert(0, text)
        return "\n".join(lines)

    def _flat_text(self, node: Tag) -> str:
        """The text of ``node`` on one line, block boundaries turned into spaces."""
        return _inline_text(node.children, self._skip)


def _inline_text(nodes: Iterable[PageElement], skip: Callable[[Tag], bool]) -> str:
    """The text of ``nodes`` on one line, block boundaries turned into spaces."""
    parts: list[str] = []
    _collect(nodes, skip, parts)
    return collapse_whitespace("".join(parts))


def _collect(nodes: Iterable[PageElement], skip: Callable[[Tag], bool], parts: list[str]) -> None:
    for child in nodes:
        if isinstance(child, Tag):
            if skip(child):
                continue
            spaced = child.name in _BLOCKS or child.name == "br"
            parts.append(" " if spaced else "")
            _collect(child.children, skip, parts)
            parts.append(" " if spaced else "")
        elif is_text(child):
            parts.append(str(child))


def _is_block(node: object) -> bool:
    return isinstance(node, Tag) and (
        node.name in _BLOCKS or node.name in _PREFORMATTED or node.name in HEADING_LEVELS
    )


def _rows(table: Tag) -> list[Tag]:
    rows: list[Tag] = []
    for child in table.find_all(["tr", "thead", "tbody", "tfoot"], recursive=False):
        if child.name == "tr":
            rows.append(child)
        else:
            rows.extend(child.find_all("tr", recursive=False))
    return rows
