"""Jupyter notebooks (``.ipynb``), read as the JSON they are (no nbformat needed).

Markdown cells are read by the Markdown loader's machinery, with JupyterLab's heading ids (the
heading's text, each space made ``-``; see ``slugs``), so a link opens the same heading in
JupyterLab and in ``jupyter nbconvert --to html`` output for headings of letters, digits and
punctuation (nbconvert percent-encodes the rest). Code cells are kept as code, and their
outputs as text: streams, ``text/plain`` results and errors ("ValueError: bad value", without
the traceback); a result that is an image gives nothing (its ``text/plain`` is only
"<Figure size 640x480 with 1 Axes>"), one that is HTML only gives the HTML's text. Raw cells
are input for other converters, not text, and are left out.
"""

from __future__ import annotations

import json
import re
from typing import Any

from markdown_it import MarkdownIt

from rag_chatbot.domain import LoadedDocument
from rag_chatbot.errors import IngestionError
from rag_chatbot.ingestion.loaders.html import HtmlLoader
from rag_chatbot.ingestion.loaders.markdown import feed_markdown
from rag_chatbot.ingestion.loaders.sections import (
    SectionBuilder,
    collapse_whitespace,
    empty_document,
    title_from_name,
)
from rag_chatbot.ingestion.loaders.slugs import heading_ids
from rag_chatbot.ingestion.loaders.text import decode_text

# One output's text is cut here: a cell that prints a million log lines is not a passage.
MAX_OUTPUT_CHARS = 10_000
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # terminal colours and cursor moves
_PLAIN_KINDS = ("text/plain", "text/markdown", "text/latex")
_HTML = HtmlLoader()  # an HTML-only result (a styled table) is read as a page is


class NotebookLoader:
    """Loads ``.ipynb`` files (nbformat 4, and 3's worksheets and heading cells).

    Title: the notebook metadata's ``title``, else the first level-1 heading, else the file name.
    """

    media_type = "application/x-ipynb+json"

    def __init__(self) -> None:
        self._parser = MarkdownIt("commonmark").enable("table")

    def load(self, data: bytes, name: str) -> LoadedDocument:
        text = decode_text(data)
        if not text.strip():
            return empty_document(name, self.media_type)
        try:
            notebook = json.loads(text)
        except ValueError as exc:
            raise IngestionError(f"{name}: not a Jupyter notebook: {exc}") from exc
        cells = _cells(notebook)
        if cells is None:
            raise IngestionError(f"{name}: not a Jupyter notebook: no list of cells")
        out = SectionBuilder()
        ids = heading_ids("jupyter")
        first_h1 = ""
        for cell in cells:
            if not isinstance(cell, dict):
                continue
            kind = cell.get("cell_type")
            source = _joined(cell.get("source", cell.get("input", "")))
            if kind == "markdown":
                h1 = feed_markdown(self._parser.parse(source), out, ids)
                first_h1 = first_h1 or h1
            elif kind == "heading":  # nbformat 3
                title = collapse_whitespace(source)
                level = cell.get("level")
                if title:
                    out.heading(level if isinstance(level, int) else 1, *ids(title))
                    first_h1 = first_h1 or (title if level == 1 else "")
            elif kind == "code":
                out.block(source.strip("\n").rstrip(), verbatim=True)
                for output in cell.get("outputs") or ():
                    out.block(_output_text(output), verbatim=True)
        metadata = notebook.get("metadata")
        named = metadata.get("title") if isinstance(metadata, dict) else None
        title = collapse_whitespace(named) if isinstance(named, str) else ""
        return LoadedDocument(
            title or first_h1 or title_from_name(name), out.sections(), self.media_type
        )


def _cells(notebook: Any) -> list[Any] | None:
    """The cells of an nbformat 4 notebook, or of every worksheet of an nbformat 3 one."""
    if not isinstance(notebook, dict):
        return None
    if isinstance(notebook.get("cells"), list):
        return list(notebook["cells"])
    worksheets = notebook.get("worksheets")
    if isinstance(worksheets, list):
        return [
            cell
            for sheet in worksheets
            if isinstance(sheet, dict) and isinstance(sheet.get("cells"), list)
            for cell in sheet["cells"]
        ]
    return None


def _joined(value: Any) -> str:
    """nbformat's multiline string: one string, or a list of lines that keep their ``\\n``."""
    if isinstance(value, list):
        return "".join(part for part in value if isinstance(part, str))
    return value if isinstance(value, str) else ""


def _output_text(output: Any) -> str:
    """The readable text of one output ('' for images and unknown kinds)."""
    if not isinstance(output, dict):
        return ""
    kind = output.get("output_type")
    if kind == "stream":
        text = _terminal_text(_joined(output.get("text")))
    elif kind in ("error", "pyerr"):
        text = ": ".join(str(output.get(key) or "") for key in ("ename", "evalue")).strip(": ")
    elif kind in ("execute_result", "display_data", "pyout"):
        text = _data_text(output.get("data", output))
    else:
        text = ""
    text = text.strip("\n").rstrip()
    return text if len(text) <= MAX_OUTPUT_CHARS else text[:MAX_OUTPUT_CHARS].rstrip() + " …"


def _data_text(data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    if any(str(kind).startswith("image/") or kind in ("png", "jpeg", "svg") for kind in data):
        return ""
    for kind in (*_PLAIN_KINDS, "text"):  # "text" is nbformat 3's text/plain
        if kind in data:
            return _terminal_text(_joined(data[kind]))
    for kind in ("text/html", "html"):
        if kind in data:
            page = _HTML.load(_joined(data[kind]).encode("utf-8"), "output.html")
            return "\n".join(section.text for section in page.sections)
    return ""


def _terminal_text(text: str) -> str:
    """``text`` as a terminal leaves it: colours removed, a line redrawn after ``\\r`` (a
    progress bar) kept at its last state."""
    lines = _ANSI.sub("", text).split("\n")
    return "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in lines)
