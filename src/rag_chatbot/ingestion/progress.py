"""What an ingest tells a progress display while it works.

The display needs the work up front (files and their bytes, known from the plan before any
file is read), the file in work, and passages as they are embedded: embedding is nearly all
of an ingest's time, and one large page can take minutes, so counting files alone leaves a
bar standing still. A file's bytes stand for its share of the work until its passages are
known; then each embedded batch advances the bar by its share of the file.
"""

from __future__ import annotations

from typing import Protocol


class IngestProgress(Protocol):
    def planned(self, files: int, total_bytes: int) -> None:
        """Called once, before the first file is read."""

    def file_started(self, source: str, size: int) -> None: ...

    def passages_embedded(self, source: str, done: int, total: int) -> None:
        """``done`` of the file's ``total`` passages are embedded (called after each batch)."""

    def file_done(self, source: str, outcome: str) -> None: ...
