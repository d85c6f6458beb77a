"""Comma-separated values (``.csv``), read with the standard library's ``csv`` module.

A row alone ("Oslo,1048,NO") answers nothing; with its header it does. So every row becomes a
paragraph of ``column: value`` lines (empty values left out), and the chunker, which cuts at
paragraphs, keeps each row whole and labelled. Rows are grouped into sections of
``ROWS_PER_SECTION``, numbered as a spreadsheet numbers them (the header is row 1).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence

from rag_chatbot.domain import LoadedDocument, Section
from rag_chatbot.errors import IngestionError
from rag_chatbot.ingestion.loaders.sections import (
    collapse_whitespace,
    empty_document,
    title_from_name,
)
from rag_chatbot.ingestion.loaders.text import decode_text

ROWS_PER_SECTION = 25
# Separators people export with: comma, semicolon (where the comma is the decimal sign), tab.
_DELIMITERS = ",;\t|"
_QUOTED = re.compile(r'"(?:[^"]|"")*"')


class CsvLoader:
    """Loads ``.csv`` files: the first row is the header, the rest are rows of data.

    The separator is the one of ``,;<tab>|`` the header line uses most (quoted names aside).
    Sections are headed "Rows 2-26" and anchored ``rows-2-26``. A file the ``csv`` module
    cannot read (a field over its size limit, as when a quote is never closed) raises
    ``IngestionError``.
    """

    media_type = "text/csv"

    def load(self, data: bytes, name: str) -> LoadedDocument:
        text = decode_text(data)
        if not text.strip():
            return empty_document(name, self.media_type)
        reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
        try:
            header = _header(next(reader, []))
            sections = tuple(_sections(reader, header))
        except csv.Error as exc:
            raise IngestionError(
                f"{name}: not a valid CSV file: {exc} (line {reader.line_num})"
            ) from exc
        return LoadedDocument(title_from_name(name), sections, self.media_type)


def _delimiter(text: str) -> str:
    first_line = _QUOTED.sub("", text.lstrip("\n").split("\n", 1)[0])
    counts = {delimiter: first_line.count(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _header(cells: Sequence[str]) -> list[str]:
    return [collapse_whitespace(cell) or f"column {i}" for i, cell in enumerate(cells, start=1)]


def _sections(rows: Iterator[list[str]], header: list[str]) -> Iterator[Section]:
    group: list[str] = []
    first = last = 0
    for number, row in enumerate(rows, start=2):
        if record := _record(header, row):
            first = first if group else number
            last = number
            group.append(record)
        if len(group) == ROWS_PER_SECTION:
            yield _section(first, last, group)
            group = []
    if group:
        yield _section(first, last, group)


def _record(header: list[str], row: list[str]) -> str:
    """``column: value`` lines for the row's non-empty cells; extra cells get "column N"."""
    lines = []
    for i, value in enumerate(row):
        value = " ".join(value.split())
        if value:
            column = header[i] if i < len(header) else f"column {i + 1}"
            lines.append(f"{column}: {value}")
    return "\n".join(lines)


def _section(first: int, last: int, records: list[str]) -> Section:
    span = f"{first}" if first == last else f"{first}-{last}"
    anchor = f"row-{first}" if first == last else f"rows-{first}-{last}"
    heading = f"Row {span}" if first == last else f"Rows {span}"
    return Section((heading,), anchor, "\n\n".join(records))
