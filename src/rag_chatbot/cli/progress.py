"""The ingest progress bar: by the work done (bytes, advanced as passages are embedded).

It shows the file in work, passages embedded so far and their rate, and the time remaining,
estimated from the bytes still to read at the rate seen so far. A file's bytes are its share
of the bar; within a file the bar moves with each batch of embedded passages.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

NAME_CHARS = 40


class IngestBar:
    """An ``IngestProgress`` drawing a rich progress bar on ``console``."""

    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[files]}"),
            TextColumn("{task.fields[passages]}"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task: TaskID | None = None
        self._files = 0
        self._done_files = 0
        self._done_bytes = 0  # bytes of the files finished
        self._size = 0  # bytes of the file in work
        self._passages = 0  # passages embedded in finished files
        self._in_file = 0  # passages embedded in the file in work
        self._started = time.monotonic()

    def __enter__(self) -> IngestBar:
        self._bar.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._bar.update(self._task, description="done" if kind is None else "stopped")
        self._bar.__exit__(kind, error, trace)

    def planned(self, files: int, total_bytes: int) -> None:
        self._files = files
        self._started = time.monotonic()
        self._task = self._bar.add_task(
            "reading", total=max(total_bytes, 1), files=self._file_count(), passages=""
        )

    def file_started(self, source: str, size: int) -> None:
        self._size = size
        self._in_file = 0
        self._update(description=_short(source))

    def passages_embedded(self, source: str, done: int, total: int) -> None:
        self._in_file = done
        self._update(completed=self._done_bytes + self._size * done // max(total, 1))

    def file_done(self, source: str, outcome: str) -> None:
        self._done_files += 1
        self._done_bytes += self._size
        self._passages += self._in_file
        self._in_file = 0
        self._update(completed=self._done_bytes)

    def _update(self, *, description: str | None = None, completed: int | None = None) -> None:
        if self._task is None:
            return
        self._bar.update(
            self._task,
            description=description,
            completed=completed,
            files=self._file_count(),
            passages=self._passage_rate(),
        )

    def _file_count(self) -> str:
        return f"{self._done_files}/{self._files} files"

    def _passage_rate(self) -> str:
        passages = self._passages + self._in_file
        seconds = time.monotonic() - self._started
        rate = passages / seconds if seconds > 0 else 0.0
        return f"{passages} passages, {rate:.1f}/s"


def _short(source: str) -> str:
    return source if len(source) <= NAME_CHARS else "…" + source[-(NAME_CHARS - 1) :]
