"""The fusion rules the benchmarks compare the retriever's with: hand-computed scores."""

from __future__ import annotations

import sys
from pathlib import Path

from rag_chatbot.domain import Chunk, ScoredChunk
from rag_chatbot.retrieval.fusion import fuse_id_scores

# The scripts import their shared modules as top-level names, from their own folder.
sys.path.append(str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _rules import Ranked, fuse_reciprocal_rank, fuse_scores


def hit(cid: str, score: float) -> ScoredChunk:
    return ScoredChunk(Chunk(cid, "d", "page.html", "T", (), "", 0, f"text {cid}"), score)


def test_rrf_hand_computed() -> None:
    fused = fuse_reciprocal_rank([Ranked([hit("a", 1), hit("b", 1)], 1.0)], k=1)
    assert [round(h.score, 6) for h in fused] == [0.5, round(1 / 3, 6)]


def test_plain_rrf_lifts_lexical_noise_that_score_fusion_keeps_down() -> None:
    dense = [hit("good", 0.7), hit("ok", 0.6)]
    lexical = [hit("noise", 3.0)]
    assert fuse_scores([Ranked(dense, 1.0), Ranked(lexical, 0.3)])[0].chunk.id == "good"
    rrf = fuse_reciprocal_rank([Ranked(dense, 1.0), Ranked(lexical, 1.0)])
    # Plain RRF puts the lexical noise level with the best dense hit.
    assert {h.chunk.id for h in rrf[:2]} == {"good", "noise"}


def test_fuse_scores_is_the_retrievers_rule_with_the_chunks_kept() -> None:
    dense = [hit("a", 0.8), hit("b", 0.4)]
    lexical = [hit("b", 10.0), hit("c", 5.0)]

    fused = fuse_scores([Ranked(dense, 1.0), Ranked(lexical, 0.5)])

    expected = fuse_id_scores(
        [
            ([(h.chunk.id, h.score) for h in dense], 1.0),
            ([(h.chunk.id, h.score) for h in lexical], 0.5),
        ]
    )
    assert [(h.chunk.id, h.score) for h in fused] == expected
    assert [h.chunk.text for h in fused] == ["text a", "text b", "text c"]
    assert fuse_scores([Ranked([], 1.0), Ranked([hit("a", 0.0)], 1.0)]) == []
