"""Citation checks on model answers: bad markers dropped, the rest renumbered, streamed alike."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from rag_chatbot.answering.citations import (
    CitationRewriter,
    cited_answer,
    rewrite_citations,
)
from rag_chatbot.domain import Chunk, ScoredChunk


def passage(n: int, text: str = "Some text.") -> ScoredChunk:
    chunk = Chunk(
        id=f"c{n}",
        document_id=f"d{n}",
        source=f"doc{n}.md",
        title=f"Doc {n}",
        section_path=("Part", f"Section {n}"),
        anchor=f"section-{n}",
        position=0,
        text=text,
    )
    return ScoredChunk(chunk, 1.0 - n / 10)


def test_markers_pointing_at_no_source_are_removed_with_their_space() -> None:
    text, cited = rewrite_citations("Lamps are cleaned daily [7]. Fog horns sound [2].", 3)
    assert text == "Lamps are cleaned daily. Fog horns sound [1]."
    assert cited == [1]


def test_citations_are_renumbered_in_order_of_first_use() -> None:
    text, cited = rewrite_citations("A [3]. B [1]. C [3]. D [2, 3].", 3)
    assert text == "A [1]. B [2]. C [1]. D [3][1]."
    assert cited == [2, 0, 1]


def test_list_markers_keep_only_valid_numbers() -> None:
    text, cited = rewrite_citations("Both [1, 9; 2] and none [0].", 2)
    assert text == "Both [1][2] and none."
    assert cited == [0, 1]


def test_brackets_that_are_not_markers_are_left_alone() -> None:
    text, cited = rewrite_citations("Use arr[i] or [see below] and [1].", 1)
    assert text == "Use arr[i] or [see below] and [1]."
    assert cited == [0]


def test_answer_fields_come_from_the_cited_passages() -> None:
    sources = [passage(1, "First passage " * 40), passage(2), passage(3)]
    text, cited = rewrite_citations("Yes [3], because [1].", len(sources))
    answer = cited_answer(text, cited, sources, "openai:test")
    assert answer.grounded is True
    assert answer.answer == "Yes [1], because [2]."
    assert [c.n for c in answer.citations] == [1, 2]
    first = answer.citations[0]
    assert (first.source, first.title, first.section) == ("doc3.md", "Doc 3", "Part > Section 3")
    assert first.url == "/read/doc3.md#section-3"
    second = answer.citations[1]
    assert len(second.quote) <= 300 and second.quote.endswith("…")
    assert answer.generator == "openai:test"


def test_an_answer_citing_nothing_valid_is_not_grounded() -> None:
    text, cited = rewrite_citations("Paris is the capital of France [4].", 2)
    answer = cited_answer(text, cited, [passage(1), passage(2)], "openai:test")
    assert answer.grounded is False
    assert answer.citations == ()
    assert answer.answer == "Paris is the capital of France."


def test_streamed_pieces_join_to_the_final_text() -> None:
    rewriter = CitationRewriter(2)
    pieces = ["Lamps ", "are cleaned [", "1", "] daily [", "5] and ", "[2", ",1]", " too", "  "]
    out = [rewriter.feed(p) for p in pieces] + [rewriter.finish()]
    assert "".join(out) == "Lamps are cleaned [1] daily and [2][1] too  "
    # Nothing that might still become a marker is released early.
    assert out[:3] == ["Lamps", " are cleaned", ""]


@given(
    st.lists(
        st.one_of(
            st.text(alphabet="ab .,\n", max_size=6),
            st.sampled_from(["[1]", "[2]", "[9]", "[1, 3]", "[", "]", " [", "2]", ","]),
        ),
        max_size=30,
    ),
    st.integers(min_value=0, max_value=3),
)
def test_any_split_of_a_stream_gives_the_same_text_as_a_whole(
    pieces: list[str], sources: int
) -> None:
    whole, cited_whole = rewrite_citations("".join(pieces), sources)
    rewriter = CitationRewriter(sources)
    streamed = "".join(rewriter.feed(p) for p in pieces) + rewriter.finish()
    assert streamed == whole
    assert rewriter.cited == cited_whole
    numbers = [int(n) for n in re.findall(r"\[(\d+)\]", whole)]
    assert all(1 <= n <= len(cited_whole) for n in numbers)
    assert sorted(set(numbers)) == list(range(1, len(cited_whole) + 1))
