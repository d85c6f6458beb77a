"""What an ingest reports while it works, and the bar drawn from it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from rag_chatbot.cli.progress import IngestBar
from rag_chatbot.container import Container

pytestmark = pytest.mark.integration


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []

    def planned(self, files: int, total_bytes: int) -> None:
        self.events.append(("planned", files, total_bytes))

    def file_started(self, source: str, size: int) -> None:
        self.events.append(("started", source, size))

    def passages_embedded(self, source: str, done: int, total: int) -> None:
        self.events.append(("embedded", source, done, total))

    def file_done(self, source: str, outcome: str) -> None:
        self.events.append(("done", source, outcome))


def long_page(folder: Path) -> Path:
    """A page of well over one embedding step (64 passages)."""
    sections = "\n\n".join(
        f"## Part {i}\n\n" + " ".join(f"Fact {i}.{k} about the harbour." for k in range(60))
        for i in range(24)
    )
    path = folder / "long.md"
    path.write_text(f"# Harbour\n\n{sections}\n", encoding="utf-8")
    return path


def test_progress_moves_within_a_large_file(container: Container, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    long_page(folder)
    (folder / "short.md").write_text("# Short\n\nThe lamp is lit at dusk.\n", encoding="utf-8")
    recorder = Recorder()
    report = container.pipeline.ingest_paths([folder], progress=recorder)

    sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
    assert recorder.events[0] == ("planned", 2, sum(sizes.values()))
    long_events = [e for e in recorder.events if e[0] == "embedded" and e[1] == "long.md"]
    assert len(long_events) >= 2, "the bar must move inside a large file"
    done = [e[2] for e in long_events]
    assert done == sorted(done) and done[-1] == long_events[-1][3] == report.chunks - 1
    assert [e[:2] for e in recorder.events if e[0] in ("started", "done")] == [
        ("started", "long.md"),
        ("done", "long.md"),
        ("started", "short.md"),
        ("done", "short.md"),
    ]


def test_the_bar_names_the_work_and_ends_at_all_of_it(container: Container, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    long_page(folder)
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160, color_system=None)
    with IngestBar(console) as bar:
        report = container.pipeline.ingest_paths([folder], progress=bar)
    shown = screen.getvalue()
    assert "long.md" in shown and "1/1 files" in shown
    assert f"{report.chunks} passages" in shown and "100%" in shown and "done" in shown
