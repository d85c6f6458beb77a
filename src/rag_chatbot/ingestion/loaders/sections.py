"""Turning a stream of headings and text blocks into ``Section`` values, shared by every loader.

A loader walks its format in reading order and calls ``SectionBuilder.heading`` and
``SectionBuilder.block``; the builder keeps the heading chain and drops sections with no text.
``Anchors`` hands out fragment identifiers that are unique within one document.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePath

from rag_chatbot.domain import LoadedDocument, Section

# GitHub keeps letters, digits, underscores, hyphens and spaces, then turns spaces into hyphens.
_SLUG_DROP = re.compile(r"[^\w\- ]", re.UNICODE)


def collapse_whitespace(text: str) -> str:
    """``text`` with every run of whitespace turned into one space, trimmed at both ends."""
    return " ".join(text.split())


def slugify(text: str) -> str:
    """A GitHub-style slug: lower case, punctuation dropped, each space a hyphen.

    Not de-duplicated; ``Anchors.slug`` adds the ``-1``, ``-2`` suffixes.
    """
    return _SLUG_DROP.sub("", text.strip().lower()).replace(" ", "-")


def title_from_name(name: str) -> str:
    """The fallback title of a file: its name without folders or extension."""
    return PurePath(name).stem or name


def empty_document(name: str, media_type: str) -> LoadedDocument:
    """The document an empty file yields: a title and no sections (the caller reports it)."""
    return LoadedDocument(title=title_from_name(name), sections=(), media_type=media_type)


class Anchors:
    """Hands out anchors unique within one document.

    Contract: ``claim`` records an anchor that already exists in the source (an HTML ``id``) and
    returns it unchanged; ``slug`` returns the heading's GitHub-style slug, suffixed ``-1``,
    ``-2``, ... when that slug (or an id) is already taken. An empty slug becomes ``section``.
    """

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self._taken: set[str] = set(reserved)
        # The last suffix given per anchor: 50,000 equal headings would otherwise try
        # 1..N for each, minutes of work for one document.
        self._last: dict[str, int] = {}

    def __contains__(self, anchor: str) -> bool:
        return anchor in self._taken

    def claim(self, anchor: str) -> str:
        self._taken.add(anchor)
        return anchor

    def slug(self, text: str) -> str:
        return self.unique(slugify(text) or "section")

    def unique(self, anchor: str) -> str:
        """``anchor`` itself if free, else the first free ``anchor-N``; either way now taken."""
        candidate, n = anchor, self._last.get(anchor, 0)
        if n:
            candidate = f"{anchor}-{n}"
        while candidate in self._taken:
            n += 1
            candidate = f"{anchor}-{n}"
        self._last[anchor] = n
        self._taken.add(candidate)
        return candidate


class SectionBuilder:
    """Collects headings and text blocks in reading order and cuts them into sections.

    Contract: ``heading(level, title, anchor)`` starts a new section whose heading path is the
    chain of open headings with a lower level plus this one; ``block(text)`` appends a paragraph
    (blank blocks are ignored; ``verbatim`` marks code, whose lines are never re-indented).
    Between ``open_list`` and the matching ``close_list``, blocks become lines of one list
    block: ``list_item`` makes the next line start with "- " (indented two spaces a nesting
    level) and later lines of the item are indented under it. ``sections()`` returns the
    sections that have text; text before the first heading forms a section with an empty
    heading path and ``lead_anchor``.
    """

    def __init__(self, lead_anchor: str = "") -> None:
        self._stack: list[tuple[int, str]] = []
        self._anchor = lead_anchor
        self._blocks: list[str] = []
        self._done: list[Section] = []
        self._list_lines: list[str] = []
        self._list_depth = 0
        self._item_prefix = ""

    @property
    def in_list(self) -> bool:
        return self._list_depth > 0

    def heading(self, level: int, title: str, anchor: str) -> None:
        self._close()
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, title))
        self._anchor = anchor

    def block(self, text: str, *, verbatim: bool = False) -> None:
        if not text.strip():
            return
        if not self.in_list:
            self._blocks.append(text)
            return
        indent = "" if verbatim else "  " * self._list_depth
        for line in [text] if verbatim else text.split("\n"):
            self._list_lines.append((self._item_prefix or indent) + line)
            self._item_prefix = ""

    def open_list(self) -> None:
        self._list_depth += 1

    def list_item(self) -> None:
        self._item_prefix = "  " * max(self._list_depth - 1, 0) + "- "

    def close_list(self) -> None:
        self._list_depth = max(self._list_depth - 1, 0)
        self._item_prefix = ""
        if not self.in_list and self._list_lines:
            self._blocks.append("\n".join(self._list_lines))
            self._list_lines = []

    def sections(self) -> tuple[Section, ...]:
        while self.in_list:
            self.close_list()
        self._close()
        return tuple(self._done)

    def _close(self) -> None:
        if self._blocks:
            path = tuple(title for _, title in self._stack)
            self._done.append(Section(path, self._anchor, "\n\n".join(self._blocks)))
        self._blocks = []
