"""AsciiDoc files (``.adoc``, ``.asciidoc``), read by a small parser of their line syntax.

The Python AsciiDoc packages are converters, not parsers: AsciiDoc.py (``asciidoc``) keeps
global state and runs ``include::``, ``sys::`` and ``eval::`` macros, which an uploaded file
must never reach; the others are pre-alpha. What a passage needs is small: section titles
(``==`` or ``##``, one more mark a level), paragraphs, lists, delimited blocks and tables.
Listing and literal blocks are code; comments, passthroughs and block macros are dropped;
``include::`` is never followed. Legacy two-line (underlined) titles are read as text.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator

from rag_chatbot.domain import LoadedDocument
from rag_chatbot.ingestion.loaders.markup_lines import text_blocks
from rag_chatbot.ingestion.loaders.sections import (
    Anchors,
    SectionBuilder,
    collapse_whitespace,
    empty_document,
    title_from_name,
)
from rag_chatbot.ingestion.loaders.text import decode_text

_HEADING = re.compile(r"(={1,6}|#{1,6})[ \t]+(\S.*?)(?:[ \t]+\1)?[ \t]*")
_DELIMITER = re.compile(r"-{4,}|\.{4,}|/{4,}|\+{4,}|_{4,}|={4,}|\*{4,}|--|[|,:!]={3,}")
_ATTRIBUTE_ENTRY = re.compile(r":(!?\w[\w-]*!?):(?:[ \t]+(.*))?")
_BLOCK_ATTRIBUTES = re.compile(r"\[\[([^,\]]+).*\]\]|\[(.*)\]")
_BLOCK_MACRO = re.compile(r"\w+::\S*\[.*\]")
_BLOCK_TITLE = re.compile(r"\.([^.\s].*)")
_COLS = re.compile(r"""cols\s*=\s*(?:"([^"]*)"|'([^']*)'|([^,\s\]]*))""")
# A cell separator with its optional specifier ("2+|", "a|", ".^|").
_CELL = r"(?:(?:^|(?<=\s))(?:[\d.]*[*+])?[<^>]?(?:\.[<^>])?[adehlmsv]?)?{}"
# Inline markup, undone in this order: attribute references, cross references, macros (URLs
# and link:, xref:, image:, footnote:, kbd: ...: their text, else their target), formatting.
_ATTRIBUTE_REF = re.compile(r"\{([\w-]+)\}")
_XREF = re.compile(r"<<([^,>]+)(?:,\s*([^>]+))?>>")
_MACRO = re.compile(
    r"\b(?:(?:https?|ftp|irc|mailto):[^\s\[]+|(?:link|xref|image|footnote|kbd|btn|pass):([^\s\[]*))"
    r"\[([^\]]*)\]"
)
# Built-in attributes that stand for characters ({nbsp}, {startsb}, ...).
_CHARACTERS = {"empty": "", "sp": " ", "nbsp": "\u00a0", "zwsp": "", "amp": "&", "lt": "<"}
_CHARACTERS |= {"gt": ">", "startsb": "[", "endsb": "]", "vbar": "|", "plus": "+", "apos": "'"}
# Spans are bounded so that a paragraph full of lone "*" is not searched to its end from each.
_FORMAT = re.compile(
    r"(\*\*|__|``|##|\+\+)(.{1,500}?)\1|(?<![\w*_`#+])([*_`#+])(\S(?:.{0,500}?\S)?)\3(?!\w)"
)


class AsciidocLoader:
    """Loads AsciiDoc files.

    Title: the first level-1 title (the document title, ``= Title``), else the file name.
    Anchors: a title's own id (``[[id]]``, ``[#id]``), else the slug of its text. Attribute
    references (``{product}``) are replaced by the values the file defines.
    """

    media_type = "text/x-asciidoc"

    def load(self, data: bytes, name: str) -> LoadedDocument:
        text = decode_text(data)
        if not text.strip():
            return empty_document(name, self.media_type)
        feeder = _AdocFeeder()
        feeder.feed(text.split("\n"), nested=False)
        title = feeder.title or title_from_name(name)
        return LoadedDocument(title, feeder.out.sections(), self.media_type)


class _AdocFeeder:
    def __init__(self) -> None:
        self.title = ""
        self.out = SectionBuilder()
        self._anchors = Anchors()
        self._attributes: dict[str, str] = dict(_CHARACTERS)
        self._id = ""
        self._discrete = False
        self._columns = 0

    def feed(self, lines: list[str], *, nested: bool) -> None:
        """Send ``lines`` to ``out``; ``nested``: inside a block, where titles are not sections."""
        prose: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i].rstrip()
            stripped = line.strip()
            i += 1
            delimiter = _DELIMITER.fullmatch(stripped)
            at_start = not prose or not prose[-1]
            if stripped.startswith("//") and not delimiter:
                continue  # a comment line; it does not end the paragraph
            if not stripped or stripped == "+":  # a blank line, or a list item's continuation
                prose.append("")
            elif at_start and self._attribute_line(stripped):
                continue
            elif delimiter:
                self._prose(prose)
                prose = []
                i = self._delimited(lines, i, stripped)
            elif at_start and (heading := _HEADING.fullmatch(line)):
                if nested or self._discrete:
                    prose += [heading.group(2), ""]
                else:
                    self._prose(prose)
                    prose = []
                    self._heading(len(heading.group(1)), self._inline(heading.group(2)))
            elif at_start and (title := _BLOCK_TITLE.fullmatch(stripped)):
                prose += [title.group(1) + ":", ""]
            elif not (at_start and _BLOCK_MACRO.fullmatch(stripped)):  # image::, include:: ...
                prose.append(line)
            self._id, self._discrete = "", False
        self._prose(prose)

    def _attribute_line(self, line: str) -> bool:
        """Take in an attribute entry or a block attribute line; False for any other line."""
        if entry := _ATTRIBUTE_ENTRY.fullmatch(line):
            if not entry.group(1).endswith("!"):
                self._attributes[entry.group(1)] = self._inline(entry.group(2) or "")
            return True
        if (attributes := _BLOCK_ATTRIBUTES.fullmatch(line)) is None:
            return False
        first = (attributes.group(2) or "").split(",")[0].strip()
        explicit = attributes.group(1) or (first[1:].split(".")[0] if first[:1] == "#" else "")
        self._id = explicit.strip() or self._id
        self._discrete = self._discrete or first in ("discrete", "float")
        if cols := _COLS.search(attributes.group(2) or ""):
            self._columns = _column_count(cols.group(1) or cols.group(2) or cols.group(3) or "")
        return True

    def _heading(self, level: int, title: str) -> None:
        anchor = self._anchors.unique(self._id) if self._id else self._anchors.slug(title)
        self.title = self.title or (title if level == 1 else "")
        self.out.heading(level, title, anchor)

    def _prose(self, lines: list[str]) -> None:
        for block in text_blocks(lines):
            self.out.block(self._inline(block))

    def _delimited(self, lines: list[str], start: int, delimiter: str) -> int:
        """Read the block whose content starts at ``start``; returns the index after it."""
        end = next((j for j in range(start, len(lines)) if lines[j].strip() == delimiter), None)
        content = lines[start : len(lines) if end is None else end]
        if delimiter[0] in "-." and delimiter != "--":  # listing, literal: code
            self.out.block("\n".join(content).strip("\n").rstrip(), verbatim=True)
        elif delimiter[0] in "|,:!":  # a table
            self.out.block("\n".join(self._table(content, delimiter[0])))
        elif delimiter[0] not in "/+":  # not a comment or passthrough: example, quote, sidebar
            self.feed(content, nested=True)
        self._columns = 0
        return len(lines) if end is None else end + 1

    def _table(self, lines: list[str], separator: str) -> Iterator[str]:
        """Rows of cells " | "; a row has as many cells as ``cols`` says, else the first line."""
        cells: list[str] = []
        columns = self._columns
        split = re.compile(_CELL.format(re.escape(separator))).split
        for line in (line for line in lines if line.strip()):
            if separator in ",:":  # comma- and colon-separated data
                parts = ["", *next(csv.reader([line], delimiter=separator))]
            else:
                parts = split(line)
            if parts[0].strip() and cells:  # text before the first separator continues a cell
                cells[-1] += " " + self._inline(collapse_whitespace(parts[0]))
            columns = columns or len(parts) - 1
            cells.extend(self._inline(collapse_whitespace(part)) for part in parts[1:])
        width = max(columns, 1)
        for start in range(0, len(cells), width):
            if any(row := cells[start : start + width]):
                yield " | ".join(row)

    def _inline(self, text: str) -> str:
        text = _ATTRIBUTE_REF.sub(lambda m: self._attributes.get(m.group(1), m.group(0)), text)
        text = _XREF.sub(lambda m: m.group(2) or m.group(1), text)
        text = _MACRO.sub(_macro_text, text)
        for _ in range(2):  # formatting nested once, as in *_both_*
            text = _FORMAT.sub(lambda m: m.group(2) or m.group(4) or "", text)
        return re.sub(r" \+(?=\n|$)", "", text)  # hard line breaks


def _macro_text(match: re.Match[str]) -> str:
    text = match.group(2).split(",")[0].strip() if "=" in match.group(2) else match.group(2)
    return text or (match.group(1) if match.group(1) is not None else match.group(0)[:-2])


def _column_count(spec: str) -> int:
    """Columns a ``cols`` value declares: "3", "1,2,1", "3*", "2*,1"."""
    if spec.strip().isdigit():
        return int(spec)
    counts = (re.match(r"\s*(\d+)\*", item) for item in re.split(r"[,;]", spec))
    return sum(int(count.group(1)) if count else 1 for count in counts)
