"""The check of a model's answer against the passages it cites."""

from __future__ import annotations

import pytest

from rag_chatbot.answering.support import SupportCheck
from rag_chatbot.domain import Answer, Citation
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.retrieval.lexical import LexicalEncoder

LENS = (
    "The Fresnel lens is cleaned every morning with a soft cloth and spirit. The keeper "
    "trims the wick at dusk."
)
TEA = "Green tea is brewed at 80 degrees for two minutes; boiling water makes it bitter."


def answer(text: str, cited: int) -> Answer:
    citations = tuple(
        Citation(n=n, source=f"s{n}", title="", section="", url="", quote="", score=1.0)
        for n in range(1, cited + 1)
    )
    return Answer(text, grounded=bool(citations), citations=citations, generator="m")


@pytest.fixture(scope="module")
def check(onnx_embedder: Embedder) -> SupportCheck:
    return SupportCheck(LexicalEncoder(), onnx_embedder)


def test_sentences_the_cited_passages_hold_are_supported(check: SupportCheck) -> None:
    text = (
        "The lens is cleaned every morning with a soft cloth [1]. "
        "Green tea should be brewed at 80 degrees [2]."
    )
    assert check.check(answer(text, 2), [LENS, TEA]).supported


def test_a_paraphrase_is_supported_by_its_meaning(check: SupportCheck) -> None:
    text = "Each day at sunrise the keeper wipes the Fresnel lens clean [1]."
    assert check.check(answer(text, 1), [LENS]).supported


def test_a_sentence_citing_the_wrong_passage_is_not_supported(check: SupportCheck) -> None:
    text = "Green tea is brewed at 80 degrees for two minutes [1]."
    verdict = check.check(answer(text, 2), [LENS, TEA])
    assert not verdict.supported and "cited passage" in verdict.reason


def test_an_answer_mostly_made_of_uncited_claims_is_not_supported(check: SupportCheck) -> None:
    text = (
        "The lens is cleaned every morning [1].\n\n"
        "Lighthouses were automated across Europe during the twentieth century. "
        "Most keepers then retired to coastal villages and wrote memoirs."
    )
    verdict = check.check(answer(text, 1), [LENS])
    assert not verdict.supported and "most of the answer" in verdict.reason


def test_an_uncited_sentence_leans_on_the_next_marker_of_its_paragraph(
    check: SupportCheck,
) -> None:
    text = "The keeper trims the wick at dusk. The lens gets a soft cloth every morning [1]."
    assert check.check(answer(text, 1), [LENS]).supported


def test_declining_as_told_is_supported_claims_without_any_source_are_not(
    check: SupportCheck,
) -> None:
    assert check.check(answer("I can't find that in the documents.", 0), []).supported
    assert check.check(answer("I can\u2019t find that in the documents.", 0), []).supported
    verdict = check.check(answer("The lens is polished with diamond paste monthly.", 0), [])
    assert not verdict.supported and verdict.reason == "the answer cites no source"
