"""What the everyday commands share: the container they run over, their consoles, their input.

``ingest``, ``ask``, ``search``, ``eval`` and ``quickstart`` build the whole container (the
embedding model and the vector index included) once per run; the operations commands open only
what they need (``cli.accounts``, ``cli.maintenance``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console

from rag_chatbot.cli.failures import reported
from rag_chatbot.config import load_settings
from rag_chatbot.container import Container, build_container

out = Console()
err = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@contextmanager
def open_container() -> Iterator[Container]:
    """The container, closed afterwards: a failure to build it exits 2, one while using it 1."""
    with reported(2):
        container = build_container(load_settings())
    try:
        with reported(1):
            yield container
    finally:
        container.close()


def inputs(text: str) -> list[str]:
    """``-`` reads one item a line from standard input (blank lines skipped); else the item."""
    if text != "-":
        return [text]
    return [line for line in lines() if line]


def lines() -> list[str]:
    """Standard input's lines, stripped; blank ones kept (as ``""``)."""
    return [line.strip() for line in sys.stdin]


def emit(obj: dict[str, Any]) -> None:
    """One JSON object on its own line of standard output, flushed (JSON lines)."""
    out.file.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.file.flush()
