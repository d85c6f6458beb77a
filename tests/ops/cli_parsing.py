"""``parse_cli``: check a command line an image, a manifest or a script runs, without running it."""

from __future__ import annotations

from typing import Any

from typer.main import get_command

from rag_chatbot.cli.main import app


def parse_cli(args: list[str], *, complete: bool = True) -> None:
    """Parse ``rag-chatbot ARGS`` as the real command line would; ``AssertionError`` if not.

    Typer's command objects (its own copy of click) parse the words, sub-command by
    sub-command, without running anything.
    """
    assert args and args[0] == "rag-chatbot", args
    command: Any = get_command(app)
    rest = args[1:]
    try:
        while hasattr(command, "resolve_command"):  # a group: find the sub-command
            context = command.make_context("rag-chatbot", list(rest), resilient_parsing=True)
            name, command, rest = command.resolve_command(context, rest)
            assert command is not None, f"no command {name!r}"
        command.make_context(command.name or "", list(rest), resilient_parsing=not complete)
    except AssertionError:
        raise
    except Exception as exc:  # typer's click raises its own UsageError family
        raise AssertionError(f"rag-chatbot rejects {args[1:]}: {exc}") from exc
