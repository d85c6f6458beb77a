"""Jupyter notebooks: markdown cells as sections with JupyterLab's ids, code and outputs as text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rag_chatbot.domain import LoadedDocument
from rag_chatbot.errors import IngestionError, UnsupportedFormat
from rag_chatbot.ingestion.loaders import load_bytes, load_file
from rag_chatbot.ingestion.loaders.ipynb import MAX_OUTPUT_CHARS

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "site_formats"


def notebook(*cells: Any, **metadata: Any) -> bytes:
    return json.dumps({"cells": list(cells), "metadata": metadata, "nbformat": 4}).encode()


def code(source: str, *outputs: dict[str, Any]) -> dict[str, Any]:
    return {"cell_type": "code", "source": source, "outputs": list(outputs), "metadata": {}}


def markdown(source: str | list[str]) -> dict[str, Any]:
    return {"cell_type": "markdown", "source": source, "metadata": {}}


@pytest.fixture(scope="module")
def tides() -> LoadedDocument:
    return load_file(FIXTURES / "notebook.ipynb")


def test_headings_are_sections_with_jupyterlab_ids(tides: LoadedDocument) -> None:
    assert tides.title == "Tide Tables"
    assert tides.media_type == "application/x-ipynb+json"
    assert [(s.heading_path, s.anchor) for s in tides.sections] == [
        (("Tide Tables",), "Tide-Tables"),
        (("Tide Tables", "Loading the data"), "Loading-the-data"),
        (("Tide Tables", "What's the highest tide?"), "What's-the-highest-tide?"),
        # JupyterLab gives a repeated heading the same id; so do we.
        (("Tide Tables", "Loading the data"), "Loading-the-data"),
    ]


def test_code_and_readable_outputs_are_kept(tides: LoadedDocument) -> None:
    loading = tides.sections[1].text.split("\n\n")
    assert loading == [
        "The data comes from a CSV file.",
        "rows = load('tides.csv')\nprint(f'loaded {len(rows)} rows')",
        "loaded 3 rows\ndone",  # terminal colours removed
        "rows.head()",
        "    port  height\n0  Brest     7.2",  # text/plain preferred to HTML; the figure dropped
    ]


def test_errors_html_only_results_and_raw_cells(tides: LoadedDocument) -> None:
    assert tides.sections[2].text.split("\n\n") == [
        "Brest, by far.",
        "tide('moon')",
        "ValueError: no tide on the moon",
        "Only HTML here",
    ]
    assert all("newpage" not in s.text and "Traceback" not in s.text for s in tides.sections)


def test_metadata_title_wins_and_a_progress_bar_shows_its_last_state() -> None:
    data = notebook(
        markdown("# Heading"),
        code("train()", {"output_type": "stream", "name": "stderr", "text": "10%\r50%\r100%\n"}),
        title="Training run",
    )
    doc = load_bytes(data, "run.ipynb")
    assert doc.title == "Training run"
    assert doc.sections[0].text == "train()\n\n100%"


def test_a_huge_output_is_cut() -> None:
    lines = "".join(f"line {i}\n" for i in range(100_000))
    data = notebook(code("spam()", {"output_type": "stream", "name": "stdout", "text": lines}))
    text = load_bytes(data, "log.ipynb").sections[0].text
    output = text.split("\n\n")[1]
    assert output.endswith(" …") and len(output) <= MAX_OUTPUT_CHARS + 2
    assert output.startswith("line 0\nline 1\n")


def test_nbformat_3_worksheets_and_heading_cells() -> None:
    data = json.dumps(
        {
            "nbformat": 3,
            "metadata": {"name": ""},
            "worksheets": [
                {
                    "cells": [
                        {"cell_type": "heading", "level": 1, "source": ["Old Notebook"]},
                        {"cell_type": "markdown", "source": ["Some *text*."]},
                        {
                            "cell_type": "code",
                            "input": ["1 + 1"],
                            "outputs": [{"output_type": "pyout", "text": ["2"]}],
                        },
                    ]
                }
            ],
        }
    ).encode()
    doc = load_bytes(data, "old.ipynb")
    assert doc.title == "Old Notebook"
    assert [(s.anchor, s.text) for s in doc.sections] == [
        ("Old-Notebook", "Some text.\n\n1 + 1\n\n2")
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"cells": [', "not a Jupyter notebook: Expecting value"),
        (b'["a", "list"]', "not a Jupyter notebook: no list of cells"),
        (b'{"metadata": {}}', "not a Jupyter notebook: no list of cells"),
    ],
)
def test_what_is_not_a_notebook_is_a_one_line_error(data: bytes, reason: str) -> None:
    with pytest.raises(IngestionError) as caught:
        load_bytes(data, "bad.ipynb")
    message = str(caught.value)
    assert message.startswith(f"bad.ipynb: {reason}")
    assert "\n" not in message


def test_odd_cells_are_skipped_not_fatal() -> None:
    data = notebook(markdown("# A"), "not a cell", {"cell_type": "code"}, markdown(["Text."]))
    assert load_bytes(data, "odd.ipynb").sections[0].text == "Text."


def test_binary_content_named_ipynb_is_refused() -> None:
    with pytest.raises(UnsupportedFormat, match=r"^x\.ipynb: looks like an image \(PNG\)"):
        load_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "x.ipynb")
