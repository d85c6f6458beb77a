"""How a command fails: the error's message on standard error, and an exit status.

Status 2 means the command could not start (a bad setting, a backend that will not open); 1
means the work itself failed. Every command reports through these two helpers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from rag_chatbot.errors import ConfigError, RagChatbotError

_err = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr; the ``typer.Exit`` to raise."""
    _err.print(f"error: {message}", style="red", markup=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def reported(code: int = 1, *, config_code: int | None = None) -> Iterator[None]:
    """A ``RagChatbotError`` inside ends the command with ``code`` (``ConfigError``:
    ``config_code``, when given)."""
    try:
        yield
    except ConfigError as exc:
        raise fail(str(exc), code if config_code is None else config_code) from exc
    except RagChatbotError as exc:
        raise fail(str(exc), code) from exc
