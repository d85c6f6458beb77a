"""The tests every ``VectorStore`` must pass, as a mixin each backend's test class inherits.

A subclass supplies two fixtures:
- ``store``: an empty store with ``DIMENSION``-dimensional dense vectors, closed at teardown
  (so ``close()`` must tolerate being called twice);
- ``reopen``: a function that closes the store it is given and opens a new one on the same data.
"""

from __future__ import annotations

import math
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from rag_chatbot.domain import Chunk, IndexedChunk
from rag_chatbot.providers.vector_stores.base import VectorStore
from rag_chatbot.retrieval.lexical import LexicalEncoder
from rag_chatbot.retrieval.scoring import complete_scores

# Hits read as the retriever reads them (scores, then the chunks): the benchmarks' helpers.
sys.path.append(str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _rules import search_dense, search_sparse

DIMENSION = 8
Reopen = Callable[[VectorStore], VectorStore]

_ENCODER = LexicalEncoder()

# "database" is in every passage (many times in most), "vacuum" in one: with IDF the rare term
# decides the ranking; on raw term frequency the repeated common term would.
_CORPUS = (
    "database database database rows live in the database file of the database",
    "database pages are cached; the database cache keeps hot database pages",
    "database indexes speed up database queries on a large database",
    "vacuum reclaims free space in the database",
    "the journal protects a database against a crash of the database process",
)


def basis(axis: int, tilt: float = 0.0) -> tuple[float, ...]:
    """A unit-ish vector along ``axis``, leaning ``tilt`` towards the next axis."""
    vector = [0.0] * DIMENSION
    vector[axis % DIMENSION] = 1.0
    vector[(axis + 1) % DIMENSION] = tilt
    return tuple(vector)


def make_point(
    text: str,
    dense: Sequence[float],
    *,
    chunk_id: str | None = None,
    section_path: tuple[str, ...] = ("Guide", "Storage"),
) -> IndexedChunk:
    chunk = Chunk(
        id=chunk_id or str(uuid.uuid4()),
        document_id=str(uuid.uuid4()),
        source="guides/storage-ç.md",
        title="Storage — the guide",
        section_path=section_path,
        anchor="storage",
        position=3,
        text=text,
    )
    return IndexedChunk(chunk=chunk, dense=tuple(dense), sparse=_ENCODER.encode_document(text))


def corpus() -> list[IndexedChunk]:
    return [make_point(text, basis(i)) for i, text in enumerate(_CORPUS)]


class VectorStoreContract:
    """Behaviour the ``VectorStore`` protocol promises, checked against a real backend."""

    @pytest.fixture
    def store(self) -> VectorStore:
        raise NotImplementedError("the backend's test class supplies the store fixture")

    @pytest.fixture
    def reopen(self) -> Reopen:
        raise NotImplementedError("the backend's test class supplies the reopen fixture")

    def test_empty_store_finds_nothing(self, store: VectorStore) -> None:
        assert search_dense(store, basis(0), limit=5) == []
        assert search_sparse(store, _ENCODER.encode_query("database"), limit=5) == []
        assert store.ids() == set()
        assert store.count() == 0

    def test_search_dense_returns_nearest_first_with_the_whole_chunk(
        self, store: VectorStore
    ) -> None:
        points = corpus()
        store.upsert(points)

        query = (0.0, 0.1, 1.0, 0.3, 0.0, 0.0, 0.0, 0.0)

        found = search_dense(store, query, limit=3)

        assert [hit.chunk for hit in found] == [points[2].chunk, points[3].chunk, points[1].chunk]
        assert found[0].score == pytest.approx(1 / math.sqrt(1.1), abs=1e-4)
        assert [hit.score for hit in found] == sorted((hit.score for hit in found), reverse=True)

    def test_payload_round_trips_an_empty_section_path(self, store: VectorStore) -> None:
        point = make_point("preface text", basis(0), section_path=())
        store.upsert([point])

        assert search_dense(store, basis(0), limit=1)[0].chunk == point.chunk

    def test_search_sparse_ranks_the_rare_term_first(self, store: VectorStore) -> None:
        points = corpus()
        store.upsert(points)

        found = search_sparse(store, _ENCODER.encode_query("database vacuum"), limit=5)

        assert found[0].chunk == points[3].chunk
        assert len(found) == len(points)

    def test_a_term_in_every_passage_weighs_little(self, store: VectorStore) -> None:
        store.upsert(corpus())

        common = search_sparse(store, _ENCODER.encode_query("database"), limit=1)[0].score
        rare = search_sparse(store, _ENCODER.encode_query("vacuum"), limit=1)[0].score

        assert 0 < common < rare / 4

    def test_search_sparse_with_no_terms_finds_nothing(self, store: VectorStore) -> None:
        store.upsert(corpus())

        assert search_sparse(store, _ENCODER.encode_query("the of and"), limit=5) == []

    def test_within_scores_only_the_given_ids_with_unchanged_scores(
        self, store: VectorStore
    ) -> None:
        points = corpus()
        store.upsert(points)
        query = (0.0, 0.1, 1.0, 0.3, 0.0, 0.0, 0.0, 0.0)
        everything = {h.chunk.id: h.score for h in search_dense(store, query, limit=10)}
        far = {points[0].chunk.id, points[4].chunk.id}

        found = search_dense(store, query, limit=10, within=far)

        assert {h.chunk.id for h in found} == far
        for hit in found:
            assert hit.score == pytest.approx(everything[hit.chunk.id], abs=1e-5)
        sparse = search_sparse(store, _ENCODER.encode_query("vacuum"), 10, within=far)
        assert sparse == []  # neither of those passages has the word
        assert search_dense(store, query, limit=10, within=set()) == []

    def test_complete_scores_completes_each_ranking_over_both(self, store: VectorStore) -> None:
        points = corpus()
        store.upsert(points)
        query = (0.3, 1.0, 0.1, 0.01, 0.0, 0.0, 0.0, 0.0)  # dense top 2: passages 1 and 0
        sparse = _ENCODER.encode_query("vacuum")  # lexical: passage 3 alone

        dense, lexical = complete_scores(store, query, sparse, 2)

        every_dense = dict(store.score_dense(query, 10))
        top_dense = [cid for cid, _ in store.score_dense(query, 2)]
        top_lexical = [cid for cid, _ in store.score_sparse(sparse, 2)]
        assert top_lexical == [points[3].chunk.id]
        # Dense: its own top 2 first, then the lexical candidate it had not ranked.
        assert [cid for cid, _ in dense] == [*top_dense, points[3].chunk.id]
        for cid, score in dense:
            assert score == pytest.approx(every_dense[cid], abs=1e-5)
        # Lexical: the dense candidates share no term with "vacuum", so they stay out.
        assert [cid for cid, _ in lexical] == top_lexical
        assert complete_scores(store, query, _ENCODER.encode_query("the of and"), 2)[1] == []

    def test_chunks_gives_the_chunks_of_existing_ids(self, store: VectorStore) -> None:
        points = corpus()
        store.upsert(points)
        store.delete([points[2].chunk.id])
        wanted = [points[0].chunk.id, points[2].chunk.id, points[4].chunk.id, str(uuid.uuid4())]

        found = store.chunks(wanted)

        assert found == {points[0].chunk.id: points[0].chunk, points[4].chunk.id: points[4].chunk}
        assert store.chunks([]) == {}

    def test_limit_is_respected(self, store: VectorStore) -> None:
        store.upsert(corpus())

        assert len(search_dense(store, basis(0), limit=2)) == 2
        assert len(search_sparse(store, _ENCODER.encode_query("database"), limit=3)) == 3

    def test_upsert_is_idempotent(self, store: VectorStore) -> None:
        points = corpus()
        store.upsert(points)
        store.upsert(points)

        assert store.count() == len(points)
        assert store.ids() == {p.chunk.id for p in points}

    def test_upsert_replaces_a_point_with_the_same_id(self, store: VectorStore) -> None:
        old = make_point("the old journal text", basis(0))
        store.upsert([old, make_point("unrelated", basis(4))])
        new = make_point("a rewritten passage", basis(6), chunk_id=old.chunk.id)

        store.upsert([new])

        assert store.count() == 2
        assert search_dense(store, basis(6), limit=1)[0].chunk == new.chunk
        assert search_dense(store, basis(0), limit=1)[0].chunk != old.chunk
        assert search_sparse(store, _ENCODER.encode_query("journal"), limit=5) == []
        assert search_sparse(store, _ENCODER.encode_query("rewritten"), limit=5)[0].chunk == (
            new.chunk
        )

    def test_delete_removes_points_and_ignores_unknown_ids(self, store: VectorStore) -> None:
        points = corpus()
        store.upsert(points)

        store.delete([points[0].chunk.id, points[3].chunk.id, str(uuid.uuid4())])
        store.delete([])

        assert store.ids() == {p.chunk.id for p in points} - {
            points[0].chunk.id,
            points[3].chunk.id,
        }
        assert store.count() == len(points) - 2
        assert search_dense(store, basis(0), limit=1)[0].chunk != points[0].chunk
        assert search_sparse(store, _ENCODER.encode_query("vacuum"), limit=5) == []

    def test_ids_lists_every_point_across_pages(self, store: VectorStore) -> None:
        # More than one scroll page of 1,024, so paging is exercised.
        points = [make_point(f"passage {i}", basis(i, tilt=i / 3000)) for i in range(1500)]
        store.upsert(points)

        assert store.ids() == {p.chunk.id for p in points}
        assert store.count() == 1500

    def test_data_survives_close_and_reopen(self, store: VectorStore, reopen: Reopen) -> None:
        points = corpus()
        store.upsert(points)
        store.delete([points[4].chunk.id])

        reopened = reopen(store)

        assert reopened.ids() == {p.chunk.id for p in points[:4]}
        assert search_dense(reopened, basis(1), limit=1)[0].chunk == points[1].chunk
        found = search_sparse(reopened, _ENCODER.encode_query("vacuum"), limit=1)
        assert found[0].chunk == points[3].chunk

    def test_search_is_right_after_optimize(self, store: VectorStore) -> None:
        topics = ("apple", "birch", "cedar", "daisy", "elder", "fern", "grape")
        points = [
            make_point(f"passage {i} about {topics[i % 7]}", basis(i % DIMENSION, tilt=i / 500))
            for i in range(300)
        ]
        store.upsert(points)

        store.optimize()
        late = make_point("written after the index was built", basis(5, tilt=-0.01))
        store.upsert([late])

        assert search_dense(store, basis(3, tilt=3 / 500), limit=1)[0].chunk == points[3].chunk
        assert search_dense(store, basis(5, tilt=-0.01), limit=1)[0].chunk == late.chunk
        found = search_sparse(store, _ENCODER.encode_query("elder"), limit=100)
        assert {hit.chunk.id for hit in found} == {p.chunk.id for p in points[4::7]}
        assert store.count() == 301
