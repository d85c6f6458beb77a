"""Rich Text Format (``.rtf``: WordPad, TextEdit, Word's "save as RTF"), read with striprtf.

RTF marks headings only by font size and style, never by structure, so a file is one section:
a paragraph a block, the rows of a table as one block. striprtf walks the file a character at
a time in Python (about 1 µs a character, measured here), and Word stores each picture as hex
text, several MB for a photo; those groups are cut out first, by a brace count in C, so a
document's time goes to its text.
"""

from __future__ import annotations

import codecs
import re

from striprtf import striprtf

from rag_chatbot.domain import LoadedDocument, Section
from rag_chatbot.errors import IngestionError
from rag_chatbot.ingestion.loaders.sections import (
    collapse_whitespace,
    empty_document,
    title_from_name,
)

_HEADER = re.compile(rb"\s*\{\\rtf")
_CODEPAGE = re.compile(r"\\ansicpg(\d+)")
_TITLE = re.compile(r"\{\\title\b ?((?:[^{}\\]|\\.)*)\}")
# Destinations holding binary data as hex: pictures, OLE objects, Office themes.
_BINARY = re.compile(r"\\(?:pict|objdata|themedata|colorschememapping|datastore)(?![a-z])")
_BRACE = re.compile(r"\\[{}\\]|[{}]")


class RtfLoader:
    """Loads ``.rtf`` files as one section.

    Title: the ``\\title`` of the file's information group, else the file name. A file that
    does not start with ``{\\rtf``, or that striprtf cannot read, raises ``IngestionError``.
    """

    media_type = "application/rtf"

    def load(self, data: bytes, name: str) -> LoadedDocument:
        if not data.strip():
            return empty_document(name, self.media_type)
        if not _HEADER.match(data):
            raise IngestionError(f"{name}: not a valid RTF file (it does not start with {{\\rtf)")
        source = data.decode("latin-1")  # RTF is 7-bit; this only finds the code page
        codepage = _codepage(source)
        source = _without_binary_groups(data.decode(codepage, errors="replace"))
        try:
            text = _to_text(source, codepage)
            title = _title(source, codepage)
        except Exception as exc:  # striprtf raises ValueError, OverflowError, ... on bad input
            raise IngestionError(f"{name}: not a valid RTF file: {exc!r}") from exc
        body = "\n\n".join(_blocks(text))
        sections = (Section((), "", body),) if body else ()
        return LoadedDocument(title or title_from_name(name), sections, self.media_type)


def _codepage(source: str) -> str:
    match = _CODEPAGE.search(source, 0, 4096)  # \ansicpg is part of the header
    if match is not None:
        try:
            return codecs.lookup(f"cp{match.group(1)}").name
        except LookupError:
            pass
    return "cp1252"  # RTF's default, ANSI on Windows


def _title(source: str, codepage: str) -> str:
    match = _TITLE.search(source)
    if match is None:
        return ""
    return collapse_whitespace(_to_text("{\\rtf1 " + match.group(1) + "}", codepage))


def _to_text(source: str, codepage: str) -> str:
    """striprtf's plain text; bytes the code page does not map become U+FFFD."""
    text = striprtf.rtf_to_text(source, encoding=codepage, errors="replace")  # type: ignore[no-untyped-call]
    return str(text)


def _without_binary_groups(source: str) -> str:
    """``source`` with each group that holds a picture or an embedded object cut out."""
    kept: list[str] = []
    start = 0
    while (found := _BINARY.search(source, start)) is not None:
        opening = source.rfind("{", start, found.start())
        if opening < 0:
            break
        depth, end = 0, len(source)
        for brace in _BRACE.finditer(source, opening):
            token = brace.group()
            depth += {"{": 1, "}": -1}.get(token, 0)
            if depth == 0:
                end = brace.end()
                break
        kept.append(source[start:opening])
        start = end
    kept.append(source[start:])
    return "".join(kept)


def _blocks(text: str) -> list[str]:
    """A block for each paragraph; consecutive table rows ("a|b|") together, cells " | "."""
    blocks: list[str] = []
    rows: list[str] = []
    for line in text.split("\n"):
        if line.rstrip().endswith("|"):
            cells = [collapse_whitespace(cell) for cell in line.rstrip().split("|")[:-1]]
            if any(cells):
                rows.append(" | ".join(cells))
            continue
        if rows:
            blocks.append("\n".join(rows))
            rows = []
        if paragraph := collapse_whitespace(line):
            blocks.append(paragraph)
    if rows:
        blocks.append("\n".join(rows))
    return blocks
