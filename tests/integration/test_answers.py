"""Answers on a real manual: pages of the SQLite and Git documentation, ingested for real.

The README's example question must cite the page that answers it, a question whose best
passage is strong is answered, and questions the pages do not answer — one unrelated, one
near the manual's subject — are declined with a low confidence.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag_chatbot.answering.answerer import Answerer
from rag_chatbot.answering.extractive import ExtractiveGenerator
from rag_chatbot.answering.grounding import EvidenceReader, GroundingModel
from rag_chatbot.config import Settings
from rag_chatbot.container import Container, build_container
from rag_chatbot.providers.embedders.base import Embedder

pytestmark = pytest.mark.integration

# ../shared beside the project: the docs-faq benchmark's copy of the manuals.
MANUAL = Path(__file__).resolve().parents[2].parent / "shared" / "eval" / "docs-faq" / "corpus"
PAGES = [
    *(
        f"sqlite/{name}.html"
        for name in (
            "autoinc", "lang_createtable", "lang_insert", "quirks", "datatype3", "lang_vacuum",
            "limits", "threadsafe", "fileformat", "pragma",
        )
    ),
    "git/git-rebase.html", "git/git-commit.html", "git/git-merge.html",
]  # fmt: skip


@pytest.fixture(scope="module")
def manual(
    tmp_path_factory: pytest.TempPathFactory, onnx_embedder: Embedder
) -> Iterator[Container]:
    corpus = tmp_path_factory.mktemp("manual")
    for page in PAGES:
        (corpus / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(MANUAL / page, corpus / page)
    container = build_container(
        Settings(data_dir=tmp_path_factory.mktemp("data")), embedder=onnx_embedder
    )
    report = container.pipeline.ingest_paths([corpus])
    assert report.failed == []
    yield container
    container.close()


def test_the_readme_example_cites_the_page_that_answers_it(manual: Container) -> None:
    answer = manual.answerer.ask("How do I create an AUTOINCREMENT field?")
    assert answer.grounded and answer.confidence is not None
    cited = [c.source for c in answer.citations]
    assert cited[0] in {"sqlite/autoinc.html", "sqlite/lang_createtable.html"}, cited
    assert "AUTOINCREMENT" in answer.answer
    # Every quote is text of the passage it names, and the markers run 1..n in order.
    assert [c.n for c in answer.citations] == list(range(1, len(cited) + 1))
    for citation in answer.citations:
        assert f"[{citation.n}]" in answer.answer


def test_a_question_with_a_strong_best_passage_is_answered(manual: Container) -> None:
    answer = manual.answerer.ask("What is the maximum size of an SQLite database file?")
    assert answer.grounded and answer.confidence is not None
    assert answer.confidence >= GroundingModel().threshold
    assert "281 terabytes" in answer.answer
    assert {c.source for c in answer.citations} & {"sqlite/limits.html", "sqlite/fileformat.html"}


@pytest.mark.parametrize(
    "question",
    [
        "How do I set shared_buffers in PostgreSQL's postgresql.conf?",  # near the subject
        "How long should I boil an egg for a soft yolk?",  # unrelated
    ],
)
def test_questions_the_pages_do_not_answer_are_declined(manual: Container, question: str) -> None:
    answer = manual.answerer.ask(question)
    assert not answer.grounded and answer.citations == ()
    assert answer.answer == "I can't find that in the documents."
    assert answer.confidence is not None and answer.confidence < GroundingModel().threshold


def test_the_threshold_decides_on_the_same_confidence(manual: Container) -> None:
    question = "What is the maximum size of an SQLite database file?"
    default = manual.answerer.ask(question)
    strict = Answerer(
        manual.retriever,
        ExtractiveGenerator(manual.embedder, manual.lexical),
        EvidenceReader(manual.lexical),
        grounding=GroundingModel(threshold=0.999),
    ).ask(question)
    assert default.grounded and not strict.grounded and not strict.citations
    assert strict.confidence == default.confidence
    # GROUNDING_THRESHOLD's default is the fitted model's.
    assert manual.settings.grounding_threshold == GroundingModel().threshold
