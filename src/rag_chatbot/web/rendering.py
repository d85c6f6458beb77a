"""A document's chunk rows turned back into sections and blocks the reader page renders.

The chunk rows are what is indexed, so the page shows exactly what answers cite: every
section's heading carries the section's anchor as its ``id`` (citation URLs end in
``#anchor``). Loaders keep paragraphs on one line and separate blocks with blank lines; code,
lists and tables keep their line breaks (lists as ``- item`` lines, tables as ``a | b`` rows),
which is how blocks are told apart here. Nothing here produces markup: the templates escape
every string, so a document's text can never become a script.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from rag_chatbot.domain import SECTION_SEPARATOR

BlockKind = Literal["paragraph", "code", "list", "table"]
_LIST_LINE = re.compile(r"^( *)- (.*)$")
_CELL_SEPARATOR = " | "
_MAX_LEVEL = 6


class ChunkLike(Protocol):
    """What rendering reads of a chunk row."""

    @property
    def section(self) -> str: ...

    @property
    def anchor(self) -> str: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class ListItem:
    depth: int
    text: str


@dataclass(frozen=True)
class Block:
    """One paragraph, code block, list or table of a section."""

    kind: BlockKind
    text: str = ""
    items: tuple[ListItem, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class SectionView:
    """A section as the page shows it; ``level`` 1 means its heading is the page's title."""

    heading: str
    anchor: str
    level: int
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class TocEntry:
    heading: str
    anchor: str
    level: int


@dataclass(frozen=True)
class DocumentView:
    title: str
    sections: tuple[SectionView, ...]
    toc: tuple[TocEntry, ...] = field(default_factory=tuple)

    @property
    def title_has_anchor(self) -> bool:
        """True when the first section's heading is the title (the page's h1 carries its id)."""
        return bool(self.sections) and self.sections[0].level == 1


def document_view(title: str, chunks: Sequence[ChunkLike]) -> DocumentView:
    """Group consecutive chunks of one section and split their text into blocks."""
    groups: list[tuple[str, str, list[str]]] = []
    for chunk in chunks:
        if groups and groups[-1][0] == chunk.section and groups[-1][1] == chunk.anchor:
            groups[-1][2].append(chunk.text)
        else:
            groups.append((chunk.section, chunk.anchor, [chunk.text]))
    sections: list[SectionView] = []
    used_anchors: set[str] = set()
    for index, (section, anchor, texts) in enumerate(groups):
        heading, level = _heading(title, section, first=index == 0)
        # Anchors are unique per document; a section split by another keeps the id once.
        shown_anchor = anchor if anchor and anchor not in used_anchors else ""
        used_anchors.add(anchor)
        blocks = tuple(b for text in texts for b in split_blocks(text))
        sections.append(SectionView(heading, shown_anchor, level, blocks))
    toc = tuple(TocEntry(s.heading, s.anchor, s.level) for s in sections if s.heading and s.anchor)
    return DocumentView(title, tuple(sections), toc)


def outline_entries(title: str, pairs: Iterable[tuple[str, str]]) -> list[TocEntry]:
    """Table-of-contents entries from a document's ``(section, anchor)`` pairs."""
    entries: list[TocEntry] = []
    seen: set[str] = set()
    for index, (section, anchor) in enumerate(pairs):
        heading, level = _heading(title, section, first=index == 0)
        if heading and anchor and anchor not in seen:
            seen.add(anchor)
            entries.append(TocEntry(heading, anchor, level))
    return entries


def _heading(title: str, section: str, *, first: bool) -> tuple[str, int]:
    """The heading shown for ``section`` and its level (2 for a top-level section).

    Loaders often repeat the title as the first heading; that heading is not a level of its
    own, and when it opens the document it becomes the page's h1.
    """
    path = section.split(SECTION_SEPARATOR) if section else []
    if not path:
        return "", 2
    same_as_title = " ".join(path[0].split()) == " ".join(title.split())
    if same_as_title and len(path) == 1:
        return path[0], 1 if first else 2
    depth = len(path) - (1 if same_as_title else 0)
    return path[-1], min(depth + 1, _MAX_LEVEL)


def split_blocks(text: str) -> list[Block]:
    """Blocks of a chunk's text: blank lines separate them; line breaks mark code, lists, tables."""
    blocks: list[Block] = []
    for raw in re.split(r"\n[ \t]*\n", text):
        if not raw.strip():
            continue
        block = raw.strip("\n")
        lines = block.split("\n")
        if len(lines) == 1:
            blocks.append(Block("paragraph", text=block.strip()))
        elif _is_list(lines):
            blocks.append(Block("list", items=_list_items(lines)))
        elif _is_table(lines):
            rows = tuple(tuple(c.strip() for c in line.split(_CELL_SEPARATOR)) for line in lines)
            blocks.append(Block("table", rows=rows))
        else:
            blocks.append(Block("code", text=block))
    return blocks


def _is_list(lines: list[str]) -> bool:
    return _LIST_LINE.match(lines[0]) is not None and all(
        _LIST_LINE.match(line) or line.startswith("  ") for line in lines
    )


def _list_items(lines: list[str]) -> tuple[ListItem, ...]:
    items: list[ListItem] = []
    for line in lines:
        match = _LIST_LINE.match(line)
        if match:
            items.append(ListItem(len(match.group(1)) // 2, match.group(2).strip()))
        else:  # a later line of the item above
            last = items[-1]
            items[-1] = ListItem(last.depth, f"{last.text} {line.strip()}")
    return tuple(items)


def _is_table(lines: list[str]) -> bool:
    widths = {line.count(_CELL_SEPARATOR) for line in lines}
    return len(widths) == 1 and widths != {0}
