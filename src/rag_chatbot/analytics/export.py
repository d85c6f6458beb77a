"""Reports as CSV: one row per day, gap, topic or page, for a spreadsheet.

Lists inside a row (a gap's questions, its nearest pages) are joined with `` | ``. A cell that
a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage return
first) gets a leading ``'``: question text comes from readers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from typing import Any

KINDS = ("summary", "gaps", "questions", "pages")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _joined(items: Iterable[Any]) -> str:
    return " | ".join(str(item) for item in items)


def _summary(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = ["date", "questions", "unanswered", "unanswered_rate", "up", "down"]
    return header, [[day[k] for k in header] for day in report["per_day"]]


def _gaps(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = [
        "id", "label", "status", "count", "unanswered", "disliked", "askers",
        "first_seen", "last_seen", "keywords", "questions", "nearest",
    ]  # fmt: skip
    rows = [
        [
            *(gap[k] for k in header[:9]),
            _joined(gap["keywords"]),
            _joined(gap["questions"]),
            _joined(page["url"] for page in gap["nearest"]),
        ]
        for gap in report["gaps"]
    ]
    return header, rows


def _questions(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = [
        "id", "label", "count", "askers", "answered", "answered_share", "unanswered",
        "disliked", "last_seen", "keywords", "questions", "pages",
    ]  # fmt: skip
    rows = [
        [
            *(topic[k] for k in header[:9]),
            _joined(topic["keywords"]),
            _joined(f"{q['text']} ({q['count']})" for q in topic["questions"]),
            _joined(f"{p['source']} ({p['count']})" for p in topic["pages"]),
        ]
        for topic in report["topics"]
    ]
    return header, rows


def _pages(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = ["source", "title", "cited", "up", "down", "indexed"]
    rows = [[page[k] for k in header] for page in report["pages"]]
    rows += [[page["source"], page["title"], 0, 0, 0, True] for page in report["never_cited"]]
    return header, rows


_TABLES: dict[str, Callable[[dict[str, Any]], tuple[list[str], list[list[Any]]]]] = {
    "summary": _summary,
    "gaps": _gaps,
    "questions": _questions,
    "pages": _pages,
}


def to_csv(kind: str, report: dict[str, Any]) -> str:
    """The report of ``kind`` (one of ``KINDS``) as CSV text with a header row."""
    header, rows = _TABLES[kind](report)
    return table_csv(header, rows)


def table_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return out.getvalue()
