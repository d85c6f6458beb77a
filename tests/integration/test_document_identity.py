"""Two folders with the same relative names: both kept, both answerable, neither replaced."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag_chatbot.container import Container

pytestmark = pytest.mark.integration


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_same_names_in_two_folders_are_two_documents(container: Container, tmp_path: Path) -> None:
    tea, boats = tmp_path / "tea", tmp_path / "boats"
    write(tea, "index.md", "# Tea\n\nGreen tea is brewed at 80 degrees for two minutes.\n")
    write(boats, "index.md", "# Boats\n\nA dinghy is rowed with two oars from the stern seat.\n")

    report = container.pipeline.ingest_paths([tea, boats])
    assert (report.added, report.updated, report.failed) == (2, 0, [])
    assert report.renamed == [
        {"source": "boats/index.md", "reason": "index.md is another folder's document"}
    ]
    sources = {row.source for row in container.repository.list_documents()}
    assert sources == {"index.md", "boats/index.md"}

    # Both are answerable, each from its own page.
    assert (
        container.answerer.ask("At what temperature is green tea brewed?").citations[0].source
        == "index.md"
    )
    boat = container.answerer.ask("How is a dinghy rowed?")
    assert boat.grounded and boat.citations[0].source == "boats/index.md"

    # Ingested again, one at a time: the same sources, nothing replaced, nothing pruned.
    again = container.pipeline.ingest_paths([boats])
    assert (again.unchanged, again.added, again.updated, again.removed) == (1, 0, 0, 0)
    write(boats, "index.md", "# Boats\n\nA dinghy is sailed when the wind allows.\n")
    changed = container.pipeline.ingest_paths([boats])
    assert (changed.updated, changed.added) == (1, 0)
    tea_row = container.repository.get_by_source("index.md")
    assert tea_row is not None and tea_row.origin == str(tea.resolve())
    assert "Green tea" in container.answerer.ask("How is green tea brewed?").answer


def test_a_file_over_the_size_limit_is_skipped_unread(container: Container, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write(folder, "small.md", "# Small\n\nThe small page says the lamp is lit at dusk.\n")
    big = write(folder, "big.txt", "")
    with big.open("wb") as out:
        out.truncate(65 * 1024 * 1024)  # sparse: over the 64 MB default without writing it
    report = container.pipeline.ingest_paths([folder])
    assert report.added == 1
    (skip,) = report.skipped
    assert skip["source"] == "big.txt" and "65.0 MB, over the 64 MB limit" in skip["reason"]


def test_a_renamed_document_is_read_again_from_its_own_file(
    container: Container, tmp_path: Path
) -> None:
    tea, boats = tmp_path / "tea", tmp_path / "boats"
    write(tea, "index.md", "# Tea\n\nGreen tea is brewed at 80 degrees for two minutes.\n")
    write(boats, "index.md", "# Boats\n\nA dinghy is rowed with two oars from the stern seat.\n")
    container.pipeline.ingest_paths([tea, boats])
    container.documents.reindex_all()  # reads every document again from where it came from
    boat = container.repository.get_by_source("boats/index.md")
    assert boat is not None and boat.status == "completed" and boat.chunk_count >= 1
    assert container.answerer.ask("How is a dinghy rowed?").citations[0].source == "boats/index.md"


def test_a_single_file_belongs_to_its_folder(container: Container, tmp_path: Path) -> None:
    folder = tmp_path / "guide"
    page = write(folder, "lamp.md", "# Lamp\n\nThe lamp is lit at dusk and put out at dawn.\n")
    assert container.pipeline.ingest_paths([page]).added == 1
    # The folder ingested later finds the same document: nothing added, nothing doubled.
    again = container.pipeline.ingest_paths([folder])
    assert (again.added, again.unchanged) == (0, 1)
    assert [row.source for row in container.repository.list_documents()] == ["lamp.md"]


def test_a_users_index_md_leaves_the_quickstart_docs_untouched(
    container: Container, tmp_path: Path
) -> None:
    project_docs = Path(__file__).resolve().parents[2] / "docs"  # what quickstart indexes
    first = container.pipeline.ingest_paths([project_docs])
    assert first.failed == [] and "index.md" in {
        r.source for r in container.repository.list_documents()
    }
    before = container.repository.get_by_source("index.md")
    assert before is not None

    mine = tmp_path / "notes"
    write(mine, "index.md", "# My notes\n\nThe boat is moored at the north jetty.\n")
    report = container.pipeline.ingest_paths([mine])
    assert (report.added, report.updated) == (1, 0)
    after = container.repository.get_by_source("index.md")
    assert after is not None and after.content_hash == before.content_hash
    assert after.origin == str(project_docs.resolve())
    assert (
        container.answerer.ask("Where is the boat moored?").citations[0].source == "notes/index.md"
    )
