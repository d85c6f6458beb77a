"""Backup metrics for node exporter's textfile collector.

``write_backup_metrics(directory, kind, size)`` writes ``rag_chatbot_backup.<kind>.prom``::

    rag_chatbot_backup_last_success_timestamp_seconds{kind="database"} 1767225600
    rag_chatbot_backup_last_size_bytes{kind="database"} 48213

atomically (``NAME.prom.tmp`` then a rename: the collector never reads half a file). An alert
on ``time() - rag_chatbot_backup_last_success_timestamp_seconds`` notices backups that stopped.

Command line, as the backup scripts call it after a backup succeeded:
``python3 -m rag_chatbot.ops.textfile backup KIND FILE`` — a no-op unless
``METRICS_TEXTFILE_DIR`` is set.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

KINDS = ("database", "full")


def write_backup_metrics(directory: Path, kind: str, size: int, when: float | None = None) -> Path:
    """Write the two gauges for a backup of ``kind`` that succeeded at ``when`` (now)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    stamp = int(time.time() if when is None else when)
    body = (
        "# HELP rag_chatbot_backup_last_success_timestamp_seconds "
        "When the last backup of this kind succeeded.\n"
        "# TYPE rag_chatbot_backup_last_success_timestamp_seconds gauge\n"
        f'rag_chatbot_backup_last_success_timestamp_seconds{{kind="{kind}"}} {stamp}\n'
        "# HELP rag_chatbot_backup_last_size_bytes Size of the last backup of this kind.\n"
        "# TYPE rag_chatbot_backup_last_size_bytes gauge\n"
        f'rag_chatbot_backup_last_size_bytes{{kind="{kind}"}} {size}\n'
    )
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"rag_chatbot_backup.{kind}.prom"
    partial = directory / f"{target.name}.tmp"
    partial.write_text(body, encoding="utf-8")
    partial.chmod(0o644)  # the exporter runs as another user
    partial.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "backup" or args[1] not in KINDS:
        print(
            "usage: python3 -m rag_chatbot.ops.textfile backup database|full FILE",
            file=sys.stderr,
        )
        return 2
    directory = os.environ.get("METRICS_TEXTFILE_DIR")
    if not directory:
        return 0
    try:
        write_backup_metrics(Path(directory), args[1], Path(args[2]).stat().st_size)
    except OSError as exc:
        print(f"cannot write the backup metric in {directory}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
