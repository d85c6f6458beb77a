"""A folder holding a program saved as text: it is skipped with its reason, the rest indexed."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag_chatbot.container import Container

pytestmark = pytest.mark.integration

LS = Path("/bin/ls")


@pytest.mark.skipif(not LS.is_file(), reason="needs /bin/ls")
def test_binary_saved_as_text_is_skipped_and_the_markdown_indexed(
    container: Container, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "notes.txt").write_bytes(LS.read_bytes())
    (folder / "kettle.md").write_text(
        "# Kettle\n\n## Descaling\n\nDescale the kettle with vinegar once a month.\n",
        encoding="utf-8",
    )

    report = container.pipeline.ingest_paths([folder])

    assert report.added == 1 and report.failed == []
    assert report.skipped == [
        {
            "source": "notes.txt",
            "reason": "notes.txt: looks like an executable (ELF), not a .txt file",
        }
    ]
    assert {doc.source for doc in container.repository.list_documents()} == {"kettle.md"}
    hits = container.retriever.retrieve("how do I descale the kettle", 3).hits
    assert hits and all(hit.chunk.source == "kettle.md" for hit in hits)
    assert not any("ELF" in hit.chunk.text for hit in hits)
