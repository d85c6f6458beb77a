"""Markdown files, parsed with markdown-it-py (CommonMark plus GitHub tables).

Working from the parser's tokens rather than lines means a ``#`` inside a fenced code block is
never taken for a heading. Anchors are GitHub's heading slugs by default, so they match the
rendered page; ``heading_ids`` picks another generator's rule (``slugs``). The MDX and notebook
loaders reuse ``front_matter``, ``feed_markdown`` and ``MarkdownLoader.document``.
"""

from __future__ import annotations

import re

from bs4 import Tag
from markdown_it import MarkdownIt
from markdown_it.token import Token

from rag_chatbot.domain import LoadedDocument
from rag_chatbot.ingestion.loaders.html import parse_html
from rag_chatbot.ingestion.loaders.html_content import is_dropped
from rag_chatbot.ingestion.loaders.sections import (
    SectionBuilder,
    collapse_whitespace,
    empty_document,
    title_from_name,
)
from rag_chatbot.ingestion.loaders.slugs import HeadingIds, HeadingIdStyle, heading_ids
from rag_chatbot.ingestion.loaders.text import decode_text

# YAML front matter (Jekyll, Hugo, MkDocs, Docusaurus): not Markdown; without this its closing
# "---" would turn the last metadata line into a setext heading.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
# A top-level "key: value" line; nested and multi-line values are not read.
_FRONT_MATTER_FIELD = re.compile(r"^([A-Za-z_][\w-]*):[ \t]*(.+?)[ \t]*$", re.MULTILINE)
# Docusaurus serves these at their folder's URL, whatever their front matter "id" says.
_FOLDER_PAGES = frozenset({"index", "readme"})


class MarkdownLoader:
    """Loads ``.md``/``.markdown`` files.

    Title: front matter ``title:``, else the first level-1 heading, else the file name.
    ``slug``: the front matter's ``slug:``, else its ``id:`` (Docusaurus's page URL, see
    ``site_urls``). Anchors follow ``heading_ids`` (``slugs``; default ``github``).
    """

    media_type = "text/markdown"

    def __init__(
        self, heading_ids: HeadingIdStyle = "github", *, parser: MarkdownIt | None = None
    ) -> None:
        self._parser = parser or MarkdownIt("commonmark").enable("table")
        self._style: HeadingIdStyle = heading_ids

    def load(self, data: bytes, name: str) -> LoadedDocument:
        text = decode_text(data)
        if not text.strip():
            return empty_document(name, self.media_type)
        fields, body = front_matter(text)
        return self.document(body, name, fields)

    def document(
        self, body: str, name: str, fields: dict[str, str], *, fallback_title: str = ""
    ) -> LoadedDocument:
        """The document of Markdown ``body`` whose front matter was ``fields``.

        ``fallback_title`` comes after the first level-1 heading and before the file name.
        """
        builder = SectionBuilder()
        first_h1 = feed_markdown(self._parser.parse(body), builder, heading_ids(self._style))
        title = fields.get("title", "") or first_h1 or fallback_title or title_from_name(name)
        return LoadedDocument(title, builder.sections(), self.media_type, page_slug(fields, name))


def front_matter(text: str) -> tuple[dict[str, str], str]:
    """The top-level ``key: value`` fields of ``text``'s YAML front matter, and the rest."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return {}, text
    fields: dict[str, str] = {}
    for field in _FRONT_MATTER_FIELD.finditer(match.group(1) or ""):
        fields.setdefault(field.group(1), field.group(2).strip("\"'"))
    return fields, text[match.end() :]


def page_slug(fields: dict[str, str], name: str) -> str:
    """Docusaurus's URL part from front matter: ``slug``, else ``id`` ('' when neither counts)."""
    if slug := fields.get("slug", ""):
        return slug
    return "" if title_from_name(name).lower() in _FOLDER_PAGES else fields.get("id", "")


def feed_markdown(tokens: list[Token], out: SectionBuilder, ids: HeadingIds) -> str:
    """Send the token stream to ``out``; returns the first level-1 heading's text ('' if none).

    ``ids`` turns a heading's text into the title shown and its anchor.
    """
    first_h1 = ""
    i = 0
    while i < len(tokens):
        token = tokens[i]
        kind = token.type
        if kind == "heading_open":
            title = collapse_whitespace(_inline_text(tokens[i + 1]))
            if out.in_list:
                out.block(title)
            elif title:
                shown, anchor = ids(title)
                out.heading(int(token.tag[1:]), shown, anchor)
                first_h1 = first_h1 or (shown if token.tag == "h1" else "")
            i += 3
            continue
        if kind == "table_open":
            i = _table(tokens, i, out)
            continue
        if kind == "inline":
            out.block(collapse_whitespace(_inline_text(token)))
        elif kind in ("fence", "code_block"):
            out.block(token.content.strip("\n").rstrip(), verbatim=True)
        elif kind == "html_block":
            out.block(_html_text(token.content))
        elif kind in ("bullet_list_open", "ordered_list_open"):
            out.open_list()
        elif kind in ("bullet_list_close", "ordered_list_close"):
            out.close_list()
        elif kind == "list_item_open":
            out.list_item()
        i += 1
    return first_h1


def _table(tokens: list[Token], start: int, out: SectionBuilder) -> int:
    """Render the table opening at ``start`` a row a line; returns the index after it."""
    rows: list[str] = []
    cells: list[str] = []
    i = start
    while i < len(tokens) and tokens[i].type != "table_close":
        token = tokens[i]
        if token.type == "inline":
            cells.append(collapse_whitespace(_inline_text(token)))
        elif token.type == "tr_close":
            if any(cells):
                rows.append(" | ".join(cells))
            cells = []
        i += 1
    out.block("\n".join(rows))
    return i + 1


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or ():
        if child.type in ("text", "code_inline", "image"):
            # An image token's content is its alt text.
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


def _html_text(markup: str) -> str:
    """The visible text of a raw HTML block, on one line (comments and scripts give nothing)."""
    soup = parse_html(markup)
    for tag in soup.find_all(is_dropped):
        # Dropping an element already dropped with its parent would fail.
        if isinstance(tag, Tag) and not tag.decomposed:
            tag.decompose()
    return collapse_whitespace(soup.get_text(" "))
