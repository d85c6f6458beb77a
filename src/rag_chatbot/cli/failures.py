"""How a command fails: one line on standard error, and an exit status.

Status 2 means the command could not start (a bad setting, a backend that will not open); 1
means the work itself failed. Every command reports through these helpers. An exception the
package does not raise on purpose is shown as its type and message on one line too; the
global option ``--debug`` shows its traceback instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from rag_chatbot.errors import ConfigError, RagChatbotError

_err = Console(stderr=True)
# typer's own ends of a command (an exit status, Ctrl-C, a usage error): never reworded.
_TYPER_ENDS = (typer.Exit, typer.Abort, typer.TyperException)
_debug = False


def set_debug(enabled: bool) -> None:
    """``--debug``: unexpected exceptions show their traceback."""
    global _debug
    _debug = enabled


def debugging() -> bool:
    return _debug


def complain(message: str) -> None:
    """Print ``error: message`` on stderr: one line (never wrapped; line breaks joined)."""
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    _err.print(f"error: {line}", style="red", markup=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr; the ``typer.Exit`` to raise."""
    complain(message)
    return typer.Exit(code)


def unexpected(exc: BaseException, code: int = 1) -> typer.Exit:
    """``fail`` for an exception no one meant: its type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    said = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return fail(f"{said} (run with --debug for the traceback)", code)


@contextmanager
def reported(code: int = 1, *, config_code: int | None = None) -> Iterator[None]:
    """Any exception inside ends the command with ``code`` (``ConfigError``: ``config_code``,
    when given); one the package did not raise on purpose keeps its traceback under --debug."""
    try:
        yield
    except _TYPER_ENDS:
        raise
    except ConfigError as exc:
        raise fail(str(exc), code if config_code is None else config_code) from exc
    except RagChatbotError as exc:
        raise fail(str(exc), code) from exc
    except Exception as exc:
        if _debug:
            raise
        raise unexpected(exc, code) from exc
