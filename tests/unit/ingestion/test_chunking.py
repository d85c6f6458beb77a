"""Chunker properties: chunks cover the text in order and respect the budget."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from rag_chatbot.domain import LoadedDocument, Section
from rag_chatbot.ingestion.chunking import (
    SPECIAL_TOKENS,
    chunk_document,
    chunk_id_for,
    document_id_for,
    split_text,
)

_PIECE = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """A word-piece-like counter: words split into pieces of 4 letters, punctuation alone."""
    return SPECIAL_TOKENS + sum(max(1, -(-len(t) // 4)) for t in _PIECE.findall(text))


def squash(text: str) -> str:
    return "".join(text.split())


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz.,;!?()", min_size=1, max_size=30)
paragraph = st.lists(words, min_size=1, max_size=80).map(" ".join)
code = st.lists(words, min_size=1, max_size=20).map("\n".join)
documents = st.lists(st.one_of(paragraph, code), min_size=0, max_size=12).map("\n\n".join)


@given(text=documents, budget=st.integers(min_value=4, max_value=120))
@settings(max_examples=300, deadline=None)
def test_chunks_cover_text_in_order_within_budget(text: str, budget: int) -> None:
    chunks = split_text(text, budget, count_tokens)
    assert squash("".join(chunks)) == squash(text)
    for chunk in chunks:
        assert chunk.strip()
        assert count_tokens(chunk) - SPECIAL_TOKENS <= budget


@given(word=st.text(alphabet="abcdef", min_size=200, max_size=600))
def test_a_single_huge_word_is_cut(word: str) -> None:
    chunks = split_text(word, 10, count_tokens)
    assert squash("".join(chunks)) == word
    assert all(count_tokens(c) - SPECIAL_TOKENS <= 10 for c in chunks)


def test_small_paragraphs_are_packed_together_and_code_keeps_line_breaks() -> None:
    text = "One two three.\n\nFour five six.\n\ndef f():\n    return 1"
    chunks = split_text(text, 100, count_tokens)
    assert chunks == [text]


def test_empty_text_gives_no_chunks() -> None:
    assert split_text("  \n\n ", 50, count_tokens) == []


def test_chunks_carry_title_section_anchor_and_fit_window_with_heading() -> None:
    body = " ".join(f"word{i}." for i in range(400))
    doc = LoadedDocument(
        title="The Book",
        sections=(
            Section((), "", "Preface text."),
            Section(("Chapter 1", "Part A"), "part-a", body),
        ),
        media_type="text/markdown",
    )
    chunks = chunk_document(
        doc, source="book.md", content_hash="abc", count_tokens=count_tokens, max_tokens=64
    )
    assert chunks[0].section_path == () and chunks[0].anchor == ""
    rest = chunks[1:]
    assert len(rest) > 3
    for position, chunk in enumerate(chunks):
        assert chunk.position == position
        assert chunk.id == chunk_id_for(document_id_for("book.md"), "abc", position)
        assert count_tokens(chunk.embedding_text) <= 64
    assert all(c.section == "Chapter 1 > Part A" and c.anchor == "part-a" for c in rest)
    assert rest[0].embedding_text.startswith("The Book > Chapter 1 > Part A\n")
    assert rest[0].url == "/read/book.md#part-a"


def test_chunk_ids_change_with_content_but_document_id_does_not() -> None:
    doc_id = document_id_for("a/b.html")
    assert doc_id == document_id_for("a/b.html")
    assert chunk_id_for(doc_id, "h1", 0) != chunk_id_for(doc_id, "h2", 0)


def test_a_huge_section_is_never_tokenized_whole() -> None:
    """Counting a 100 MB section at once would build gigabytes of word pieces."""
    longest: list[int] = []

    def count(text: str) -> int:
        longest.append(len(text))
        return len(text.split()) + 2

    paragraph = " ".join(["word"] * 50)
    text = "\n\n".join([paragraph] * 2000)  # 100,000 words, 500 KB
    pieces = split_text(text, 120, count)
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace(
        "\n", ""
    )
    assert max(longest) < 2_000  # a few paragraphs at most, never the section
