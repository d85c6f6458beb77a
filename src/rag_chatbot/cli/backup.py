"""``rag-chatbot backup FILE`` and ``rag-chatbot restore FILE`` (see ``rag_chatbot.ops``).

Exit status: 0 done; 1 refused or failed (a non-empty target, a bad archive, a database that
cannot be reached), with the reason on standard error; 2 a bad setting.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rag_chatbot.cli.failures import reported
from rag_chatbot.config import Settings, load_settings

_out = Console()
_err = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]


def _settings() -> Settings:
    with reported(1, config_code=2):
        return load_settings()


def backup(
    file: Annotated[Path, typer.Argument(help="Archive to write (a .tar.gz).", dir_okay=False)],
    as_json: JsonFlag = False,
) -> None:
    """Back up the database rows, uploads and index settings into one archive.

    Safe while the service runs; vectors are rebuilt from the rows on restore.
    """
    from rag_chatbot.ops.backup import create_backup

    settings = _settings()
    with reported(1, config_code=2):
        summary = create_backup(settings, file)
    if as_json:
        _out.file.write(json.dumps(summary) + "\n")
        return
    rows = ", ".join(f"{name} {count}" for name, count in summary["tables"].items())
    _out.print(
        f"wrote {summary['file']} ({summary['bytes']} bytes): revision {summary['revision']}; "
        f"rows: {rows}; uploads: {summary['uploads']}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def restore(
    file: Annotated[Path, typer.Argument(help="Archive written by `rag-chatbot backup`.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace a deployment that holds data (its data is backed up first).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Restore a backup into an empty deployment (stop the service first).

    Refuses a database, vector index or uploads folder that holds data, unless --force.
    """
    from rag_chatbot.ops.restore import restore_backup

    settings = _settings()
    with reported(1, config_code=2):
        if as_json or not _err.is_terminal:
            summary = restore_backup(settings, file, force=force)
        else:
            summary = _with_progress(settings, file, force)
    if as_json:
        _out.file.write(json.dumps(summary) + "\n")
        return
    for warning in summary["warnings"]:
        _err.print(f"warning: {warning}", style="yellow", markup=False, soft_wrap=True)
    if summary["pre_restore_backup"]:
        _out.print(f"previous data saved to {summary['pre_restore_backup']}", markup=False)
    rows = ", ".join(f"{name} {count}" for name, count in summary["tables"].items())
    _out.print(
        f"restored {summary['file']}: rows: {rows}; uploads: {summary['uploads']}; "
        f"{summary['chunks_embedded']} passages of {summary['documents']} documents "
        f"re-embedded in {summary['embedding_seconds']:.1f} s",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def _with_progress(settings: Settings, file: Path, force: bool) -> dict[str, Any]:
    from rag_chatbot.ops.restore import restore_backup

    columns = (
        TextColumn("re-embedding"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=_err) as bar:
        task = bar.add_task("documents", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return restore_backup(settings, file, force=force, progress=advance)
