"""Fusion and aggregation: hand-computed scores, order independence."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rag_chatbot.domain import Chunk, ScoredChunk
from rag_chatbot.retrieval.fusion import aggregate, first_copies, fuse_id_scores


def hit(cid: str, score: float, source: str = "page.html") -> ScoredChunk:
    return ScoredChunk(Chunk(cid, "d", source, "T", (), "", 0, "text"), score)


def test_score_fusion_scales_each_list_by_its_best() -> None:
    dense = [("a", 0.8), ("b", 0.4)]
    lexical = [("b", 10.0), ("c", 5.0)]
    fused = fuse_id_scores([(dense, 1.0), (lexical, 0.5)])
    scores = {cid: round(score, 6) for cid, score in fused}
    # a: 0.8/0.8 = 1.0; b: 0.4/0.8 + 0.5 * 10/10 = 1.0; c: 0.5 * 5/10 = 0.25
    assert scores == {"a": 1.0, "b": 1.0, "c": 0.25}
    assert [cid for cid, _ in fused] == ["a", "b", "c"]  # tie broken by id


def test_a_weak_lexical_list_cannot_outrank_a_strong_dense_hit() -> None:
    dense = [("good", 0.7), ("ok", 0.6)]
    lexical = [("noise", 3.0)]
    fused = fuse_id_scores([(dense, 1.0), (lexical, 0.3)])
    assert fused[0][0] == "good"


def test_empty_or_nonpositive_lists_are_ignored() -> None:
    assert fuse_id_scores([([], 1.0), ([("a", 0.0)], 1.0)]) == []


@given(st.permutations(["a", "b", "c", "d"]), st.permutations(["c", "d", "e"]))
def test_fusion_does_not_depend_on_input_order(p1: list[str], p2: list[str]) -> None:
    dense = {"a": 0.9, "b": 0.5, "c": 0.3, "d": 0.2}
    lexical = {"c": 4.0, "d": 2.0, "e": 1.0}
    forward = fuse_id_scores(
        [([(c, dense[c]) for c in p1], 1.0), ([(c, lexical[c]) for c in p2], 0.3)]
    )
    backward = fuse_id_scores(
        [([(c, lexical[c]) for c in p2], 0.3), ([(c, dense[c]) for c in p1], 1.0)]
    )
    assert [(cid, round(score, 9)) for cid, score in forward] == [
        (cid, round(score, 9)) for cid, score in backward
    ]


def test_aggregate_ranks_groups_by_best_member() -> None:
    hits = [hit("1", 0.9, "x"), hit("2", 0.8, "y"), hit("3", 0.95, "y"), hit("4", 0.1, "z")]
    groups = aggregate(hits, key=lambda h: h.chunk.source)
    assert [(name, score) for name, score, _ in groups] == [("y", 0.95), ("x", 0.9), ("z", 0.1)]
    assert [h.chunk.id for h in groups[0][2]] == ["2", "3"]


def test_first_copies_keeps_the_copy_ranked_first_and_all_its_passages() -> None:
    owners = {
        "a1": ("doc-a", "same"),
        "b1": ("doc-b", "same"),  # doc-b is doc-a under another name
        "a2": ("doc-a", "same"),
        "c1": ("doc-c", "other"),
        "b2": ("doc-b", "same"),
    }
    ranked = [("b1", 0.9), ("a1", 0.9), ("c1", 0.8), ("a2", 0.7), ("b2", 0.6)]

    assert first_copies(ranked, owners) == [("b1", 0.9), ("c1", 0.8), ("b2", 0.6)]
