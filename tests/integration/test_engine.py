"""Ingest -> search -> ask with the real model, real Qdrant engine and SQLite."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag_chatbot.config import Settings
from rag_chatbot.container import Container, build_container
from rag_chatbot.providers.embedders.base import Embedder

pytestmark = pytest.mark.integration


@pytest.fixture
def corpus(tmp_path: Path, fixture_corpus: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(fixture_corpus, target)
    return target


def assert_consistent(container: Container) -> None:
    """Every stored point has a committed row and every row its point: no orphan, no gap."""
    assert container.store.ids() == container.repository.all_chunk_ids()


def test_ingest_search_ask_round_trip(container: Container, corpus: Path) -> None:
    report = container.pipeline.ingest_paths([corpus])
    assert (report.added, report.failed, report.skipped) == (3, [], [])
    assert report.chunks == container.store.count() > 3
    assert_consistent(container)

    found = container.retriever.retrieve("how often do I clean the lens", 3)
    hits = found.hits
    assert hits[0].chunk.source == "lighthouse.md"
    # The query went through the query path (alone, on the integer model), not a batch.
    query = container.embedder.embed_queries(["how often do I clean the lens"])[0]
    assert found.query_vector == query.tolist()
    assert hits[0].chunk.anchor == "lamp-maintenance"

    answer = container.answerer.ask("How often should the Fresnel lens be cleaned?")
    assert answer.grounded
    assert "every morning" in answer.answer
    first = answer.citations[0]
    assert first.n == 1 and "[1]" in answer.answer
    assert first.source == "lighthouse.md"
    assert first.url == "/read/lighthouse.md#lamp-maintenance"
    assert first.section.endswith("Lamp maintenance")
    assert first.quote and first.quote in " ".join(hits[0].chunk.text.split())


def test_html_page_is_cited_by_heading_id_and_chrome_is_not_indexed(
    container: Container, corpus: Path
) -> None:
    container.pipeline.ingest_paths([corpus])
    answer = container.answerer.ask("What ratio of brown to green material does compost need?")
    assert answer.grounded
    assert answer.citations[0].url == "/read/guides/composting.html#ratio"
    nav = container.retriever.retrieve("subscribe today shop log in privacy policy", 10).hits
    assert all("subscribe" not in h.chunk.text.lower() for h in nav)


def test_a_document_saved_twice_is_found_once(container: Container, corpus: Path) -> None:
    shutil.copy(corpus / "lighthouse.md", corpus / "lighthouse-copy.md")
    container.pipeline.ingest_paths([corpus])
    copies = {"lighthouse.md", "lighthouse-copy.md"}

    hits = container.retriever.retrieve("how often do I clean the lens", 10).hits
    answer = container.answerer.ask("How often is the Fresnel lens cleaned?")

    # Each copy's passages score exactly alike: without the rule both would be listed.
    assert len(copies & {h.chunk.source for h in hits}) == 1, [h.chunk.source for h in hits]
    assert answer.grounded
    assert len(copies & {c.source for c in answer.citations}) == 1


def test_copies_never_leave_fewer_passages_than_asked(container: Container, corpus: Path) -> None:
    # Six copies score alike: the head of the ranking the retriever first looks documents up
    # for (twice top_k, 4) is the best passage four times over, so it must look further.
    for n in range(2, 7):
        shutil.copy(corpus / "lighthouse.md", corpus / f"lighthouse-{n}.md")
    container.pipeline.ingest_paths([corpus])

    hits = container.retriever.retrieve("how often do I clean the lens", 2).hits

    assert len(hits) == 2
    assert len({h.chunk.source for h in hits if h.chunk.source.startswith("lighthouse")}) == 1


def test_unrelated_question_is_not_answered(container: Container, corpus: Path) -> None:
    container.pipeline.ingest_paths([corpus])
    for question in (
        "Who won the football world cup in 1998?",
        "What is the capital of Australia?",
    ):
        answer = container.answerer.ask(question)
        assert not answer.grounded, question
        assert answer.citations == ()
        assert "can't find" in answer.answer


def test_reingest_is_idempotent_then_updates_and_prunes(container: Container, corpus: Path) -> None:
    first = container.pipeline.ingest_paths([corpus])
    again = container.pipeline.ingest_paths([corpus])
    assert (again.added, again.updated, again.unchanged, again.removed) == (0, 0, 3, 0)
    assert container.store.count() == first.chunks

    tea = corpus / "tea.txt"
    tea.write_text("Brewing oolong\n\nOolong is steeped at 90 degrees for exactly seven minutes.\n")
    (corpus / "guides" / "composting.html").unlink()
    third = container.pipeline.ingest_paths([corpus])
    assert (third.added, third.updated, third.unchanged, third.removed) == (0, 1, 1, 1)
    assert_consistent(container)
    assert container.repository.get_by_source("guides/composting.html") is None
    sources = {h.chunk.source for h in container.retriever.retrieve("compost heap", 10).hits}
    assert "guides/composting.html" not in sources
    answer = container.answerer.ask("How long is oolong steeped?")
    assert answer.grounded and "seven minutes" in answer.answer
    texts = " ".join(h.chunk.text for h in container.retriever.retrieve("green tea", 10).hits)
    assert "80 degrees" not in texts


def test_bad_files_fail_alone(container: Container, corpus: Path) -> None:
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\n this is not really a pdf")
    (corpus / "empty.md").write_bytes(b"")
    (corpus / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    report = container.pipeline.ingest_paths([corpus])
    assert report.added == 3
    failed = {f["source"]: f["reason"] for f in report.failed}
    assert set(failed) == {"broken.pdf", "empty.md"}
    assert "pdf" in failed["broken.pdf"].lower()
    assert [s["source"] for s in report.skipped] == ["photo.png"]
    assert_consistent(container)


def test_selected_text_answers_from_the_selection(container: Container, corpus: Path) -> None:
    container.pipeline.ingest_paths([corpus])
    selection = (
        "The keeper's cat, Biscuit, sleeps on the warm lamp gallery. She catches mice in the "
        "oil room every night."
    )
    answer = container.answerer.ask("Where does the cat sleep?", selected_text=selection)
    assert answer.grounded
    assert answer.citations[0].source == "selection"
    assert answer.citations[0].url == ""  # no document page to open for a selection
    assert "lamp gallery" in answer.answer


def test_index_survives_reopen(settings: Settings, onnx_embedder: Embedder, corpus: Path) -> None:
    first = build_container(settings, embedder=onnx_embedder)
    first.pipeline.ingest_paths([corpus])
    first.close()
    second = build_container(settings, embedder=onnx_embedder)
    try:
        assert second.retriever.retrieve("fog horn blasts", 1).hits[0].chunk.anchor == "fog-signals"
        assert_consistent(second)
    finally:
        second.close()
