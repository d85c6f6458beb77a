"""Emacs Org files (``.org``), outlined with orgparse: each headline is a section.

orgparse finds the headlines, their levels, properties and text, with links reduced to their
descriptions; what is left in a headline's text is Org's own line syntax, read here: source
and example blocks are kept as code, keyword lines (``#+OPTIONS:``), comments, drawers and
planning lines (``SCHEDULED:``) are dropped, since they are settings rather than prose.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import orgparse
from orgparse.node import OrgBaseNode

from rag_chatbot.domain import LoadedDocument
from rag_chatbot.errors import IngestionError
from rag_chatbot.ingestion.loaders.markup_lines import text_blocks
from rag_chatbot.ingestion.loaders.sections import (
    Anchors,
    SectionBuilder,
    collapse_whitespace,
    empty_document,
    title_from_name,
)
from rag_chatbot.ingestion.loaders.text import decode_text

_BEGIN = re.compile(r"\s*#\+begin_(\w+)", re.IGNORECASE)
_VERBATIM = {"src", "example"}  # kept as code
_HIDDEN = {"comment", "export"}  # not part of the text
# "#+KEY: value", "#+end_quote", "# comment", a drawer's stray end
_KEYWORD = re.compile(r"\s*#\+|\s*#(?:\s|$)|\s*:end:\s*$", re.IGNORECASE)
_DRAWER = re.compile(r"\s*:(?!end:)[\w-]+:\s*$", re.IGNORECASE)
_PLANNING = re.compile(r"\s*(?:SCHEDULED|DEADLINE|CLOSED):")
_TABLE_RULE = re.compile(r"\s*\|[-+]+\|?\s*$")
_CODE_ESCAPE = re.compile(r"^(\s*),(?=\*|#\+)", re.MULTILINE)


class OrgLoader:
    """Loads ``.org`` files.

    Title: ``#+TITLE:``, else the first level-1 headline, else the file name. Anchors are a
    headline's ``CUSTOM_ID`` property, else the slug of its text. TODO keywords, priorities
    and tags are not part of a heading.
    """

    media_type = "text/x-org"

    def load(self, data: bytes, name: str) -> LoadedDocument:
        text = decode_text(data)
        if not text.strip():
            return empty_document(name, self.media_type)
        try:
            root = orgparse.loads(text)
            out, first_heading = _feed(root)
            title = collapse_whitespace(root.get_file_property("TITLE") or "")
        except Exception as exc:  # orgparse raises ValueError, AttributeError, ...
            raise IngestionError(f"{name}: not a valid Org file: {exc!r}") from exc
        title = title or first_heading or title_from_name(name)
        return LoadedDocument(title, out.sections(), self.media_type)


def _feed(root: OrgBaseNode) -> tuple[SectionBuilder, str]:
    """The sections of ``root``'s outline, and the first level-1 headline ('' if none)."""
    out = SectionBuilder()
    anchors = Anchors()
    first_heading = ""
    _body(root.get_body(format="plain"), out)
    for node in root[1:]:
        heading = collapse_whitespace(node.get_heading(format="plain"))
        custom_id = collapse_whitespace(str(node.properties.get("CUSTOM_ID") or ""))
        anchor = anchors.unique(custom_id) if custom_id else anchors.slug(heading)
        out.heading(node.level, heading or anchor, anchor)
        if node.level == 1:
            first_heading = first_heading or heading
        _body(node.get_body(format="plain"), out)
    return out, first_heading


def _body(body: str, out: SectionBuilder) -> None:
    for text, verbatim in _blocks(body.split("\n")):
        out.block(text, verbatim=verbatim)


def _blocks(lines: list[str]) -> Iterator[tuple[str, bool]]:
    """(text, is code) for each block of a headline's text."""
    prose: list[str] = []
    ends = [j for j, line in enumerate(lines) if line.strip().lower() == ":end:"]
    i = 0
    while i < len(lines):
        line = lines[i]
        begin = _BEGIN.match(line)
        kind = begin.group(1).lower() if begin else ""
        # Without an ":END:" after it, Org reads a drawer's opening line as text.
        drawer = _DRAWER.match(line) and ends and ends[-1] > i
        if kind in _VERBATIM or kind in _HIDDEN or drawer:
            yield from ((block, False) for block in text_blocks(prose))
            prose = []
            end = _closing(lines, i, kind)
            if kind in _VERBATIM:
                code = _CODE_ESCAPE.sub(r"\1", "\n".join(lines[i + 1 : end]))
                yield code.strip("\n").rstrip(), True
            i = end + 1
            continue
        if _KEYWORD.match(line) or _PLANNING.match(line):
            prose.append("")  # ends a paragraph: "#+begin_quote", "#+CAPTION: ..."
        elif not _TABLE_RULE.match(line):
            prose.append(line)
        i += 1
    yield from ((block, False) for block in text_blocks(prose))


def _closing(lines: list[str], start: int, kind: str) -> int:
    """The index of the line that closes the block or drawer at ``start`` (else past the end)."""
    marker = f"#+end_{kind}" if kind else ":end:"
    for j in range(start + 1, len(lines)):
        if lines[j].strip().lower().startswith(marker):
            return j
    return len(lines)
