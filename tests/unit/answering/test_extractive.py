"""The extractive composer on hand-written passages, with the real embedding model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import pytest

from rag_chatbot.answering.extractive import NOT_FOUND, ExtractiveGenerator
from rag_chatbot.domain import Chunk, ScoredChunk
from rag_chatbot.providers.embedders.base import Embedder, Vectors
from rag_chatbot.retrieval.lexical import LexicalEncoder


def passage(source: str, text: str, score: float, section: str = "") -> ScoredChunk:
    chunk = Chunk(
        id=f"{source}-{abs(hash(text)) % 10_000}",
        document_id=source,
        source=source,
        title=source,
        section_path=(section,) if section else (),
        anchor="",
        position=0,
        text=text,
    )
    return ScoredChunk(chunk, score)


@pytest.fixture(scope="module")
def composer(onnx_embedder: Embedder) -> ExtractiveGenerator:
    return ExtractiveGenerator(onnx_embedder, LexicalEncoder())


def test_the_best_ranked_passage_leads_and_two_agreeing_pages_are_both_cited(
    composer: ExtractiveGenerator,
) -> None:
    passages = [
        passage(
            "autoinc.html",
            "In SQLite, a column with type INTEGER PRIMARY KEY is an alias for the ROWID. "
            "If the AUTOINCREMENT keyword appears after INTEGER PRIMARY KEY, that changes the "
            "automatic ROWID assignment algorithm to prevent the reuse of ROWIDs.",
            1.1,
        ),
        passage(
            "lang_createtable.html",
            "A column declared INTEGER PRIMARY KEY AUTOINCREMENT gets a new integer key, one "
            "larger than the largest key ever used in the table, on every insert.",
            1.0,
        ),
        passage(
            "fileformat.html",
            "The sqlite_sequence table is an internal table used to help implement "
            "AUTOINCREMENT. It is created automatically.",
            0.6,
        ),
    ]
    answer = composer.generate("How do I create an AUTOINCREMENT field?", passages)

    assert answer.grounded
    sources = [c.source for c in answer.citations]
    assert sources[:2] == ["autoinc.html", "lang_createtable.html"]
    assert answer.answer.index("[1]") < answer.answer.index("[2]")
    # Every quoted sentence is a sentence of the passage its citation names.
    for citation in answer.citations:
        text = next(p.chunk.text for p in passages if p.chunk.source == citation.source)
        for part in citation.quote.split(" … "):
            assert part in text


def test_a_definition_beats_a_code_comment_sharing_the_words(
    composer: ExtractiveGenerator,
) -> None:
    comment = "// get the file extension of the module file name\nconst ext = name.slice(-3);"
    definition = (
        "The path.extname() method returns the extension of the path, from the last "
        "occurrence of the . (period) character to the end of the string."
    )
    passages = [
        passage("module.html", f"Loading modules.\n\n{comment}\n\nModules are cached.", 1.0),
        passage("path.html", f"path.extname(path)\n\n{definition}", 0.95, "path.extname(path)"),
    ]
    answer = composer.generate("How do I get a file's extension?", passages)

    assert answer.grounded
    assert answer.citations[0].source == "path.html"
    assert "returns the extension of the path" in answer.answer
    assert "// get the file extension" not in answer.answer
    # A "how do I" question gets the signature with the definition.
    assert "path.extname(path)" in answer.answer


def test_a_how_to_question_gets_the_code_block_of_its_passage(
    composer: ExtractiveGenerator,
) -> None:
    code = "CREATE TABLE t1(\n  a INTEGER PRIMARY KEY,\n  b INTEGER\n);"
    passages = [
        passage(
            "faq.html",
            "A column declared INTEGER PRIMARY KEY will autoincrement. For example, suppose "
            f"you have a table like this:\n\n{code}\n\nInserting NULL into a gives a new key.",
            1.0,
        )
    ]
    answer = composer.generate("How do I make a column autoincrement?", passages)
    assert "INTEGER PRIMARY KEY will autoincrement" in answer.answer
    assert code in answer.answer


def test_passages_about_something_else_give_no_answer(composer: ExtractiveGenerator) -> None:
    passages = [
        passage("tea.txt", "Green tea is brewed at 80 degrees for two minutes.", 1.0),
        passage("lighthouse.md", "The keeper lights the lamp at dusk.", 0.8),
    ]
    answer = composer.generate("What is the capital of Mongolia?", passages)
    assert not answer.grounded and answer.answer == NOT_FOUND and not answer.citations


def test_one_page_is_cited_once_even_with_two_good_passages(
    composer: ExtractiveGenerator,
) -> None:
    passages = [
        passage("tea.md", "Green tea is brewed at 80 degrees.", 1.0),
        passage("tea.md", "Brew green tea for two minutes at 80 degrees.", 0.99),
        passage("coffee.md", "Green tea should steep at about 80 degrees.", 0.9),
    ]
    answer = composer.generate("At what temperature is green tea brewed?", passages)
    sources = [c.source for c in answer.citations]
    assert sources.count("tea.md") == 1 and "coffee.md" in sources


def test_a_paragraph_two_pages_share_is_quoted_once_and_cited_for_both(
    composer: ExtractiveGenerator,
) -> None:
    shared = (
        "The merge algorithm considers the reverted change as no change at all, and "
        "the merged result keeps the change from the other branch."
    )
    passages = [
        passage("git-merge.html", shared, 1.1),
        passage("git-rebase.html", f"Options are read first. {shared}", 1.09),
    ]
    answer = composer.generate("Why does a merge keep a change I reverted on one branch?", passages)
    assert [c.source for c in answer.citations] == ["git-merge.html", "git-rebase.html"]
    assert answer.answer.count("reverted change") == 1 and answer.answer.endswith("[1][2]")
    assert answer.citations[1].quote == shared


class CountingEmbedder:
    """The real model, counting the texts it is given."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self.texts: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self._embedder, name)

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.texts.extend(texts)
        return self._embedder.embed(texts)


def test_sentences_weighed_for_one_question_are_not_embedded_again(
    onnx_embedder: Embedder,
) -> None:
    counting = CountingEmbedder(onnx_embedder)
    composer = ExtractiveGenerator(cast(Embedder, counting), LexicalEncoder())
    passages = [
        passage(
            "autoinc.html",
            "If the AUTOINCREMENT keyword appears after INTEGER PRIMARY KEY, that changes the "
            "automatic ROWID assignment algorithm. The keyword imposes extra CPU and disk "
            "overhead and should be avoided if not strictly needed.",
            1.0,
        )
    ]
    first = composer.generate("How do I create an AUTOINCREMENT field?", passages)
    embedded = list(counting.texts)
    assert len(embedded) >= 3  # the question and the passage's sentences
    again = composer.generate("How do I create an AUTOINCREMENT field?", passages)
    other = composer.generate("What does AUTOINCREMENT cost?", passages)

    assert again == first
    assert counting.texts[len(embedded) :] == ["What does AUTOINCREMENT cost?"]
    assert other.grounded and "overhead" in other.answer
