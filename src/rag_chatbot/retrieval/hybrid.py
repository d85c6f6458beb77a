"""The hybrid retriever: dense and lexical search in the vector store, fused."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from rag_chatbot.domain import ScoredChunk
from rag_chatbot.errors import ProviderError, RetrievalError
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.providers.vector_stores.base import VectorStore
from rag_chatbot.retrieval.fusion import first_copies, fuse_id_scores
from rag_chatbot.retrieval.lexical import LexicalEncoder
from rag_chatbot.retrieval.scoring import CandidateScorer, complete_scores, read_hits

DENSE_SCORES_KEPT = 10


class ChunkCatalog(Protocol):
    """What the relational store knows of chunks (``DocumentRepository`` is one).

    - ``committed(ids)``: the subset of ``ids`` whose rows are committed. A point written to
      the vector store before its document's rows commit, or left by a failed ingest, is
      not visible until then (or ever).
    - ``owners(ids)``: each committed chunk of ``ids`` -> its document's id and content hash.
    """

    def committed(self, chunk_ids: Iterable[str]) -> set[str]: ...

    def owners(self, chunk_ids: Iterable[str]) -> dict[str, tuple[str, str]]: ...


@dataclass(frozen=True)
class RetrievalResult:
    """Fused hits plus the retrievers' raw scores (the grounding check reads them).

    ``dense_scores``: the best dense cosines among visible chunks, best first (at most ten).
    """

    hits: list[ScoredChunk]
    dense_best: float
    lexical_best: float
    query_vector: Sequence[float]
    dense_scores: tuple[float, ...] = ()


class HybridRetriever:
    """Finds the chunks that best match a query.

    Contract: ``retrieve(query, top_k)`` returns at most ``top_k`` chunks whose rows are
    committed, best first, scored by fusing cosine similarity and BM25 (see ``fusion``).
    Of documents with the same content (one file under two names), only the copy ranked
    first is returned (``first_copies``). Raises ``RetrievalError`` when a backend fails.
    ``catalog`` says which chunks are committed and whose they are; ``scorer`` scores the
    candidates (``complete_scores`` on ``store`` unless given).
    """

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        lexical: LexicalEncoder,
        catalog: ChunkCatalog,
        *,
        scorer: CandidateScorer | None = None,
        candidates: int = 50,
        lexical_weight: float = 0.1,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._lexical = lexical
        self._catalog = catalog
        self._scores: CandidateScorer = scorer or partial(complete_scores, store)
        self._candidates = candidates
        self._lexical_weight = lexical_weight

    def retrieve(self, query: str, top_k: int) -> RetrievalResult:
        limit = max(self._candidates, top_k)
        try:
            vector = self._embedder.embed_queries([query])[0].tolist()
            sparse_query = self._lexical.encode_query(query)
            # Rank on ids and scores only: reading payloads is most of a search's cost, so
            # only the top_k chunks that are kept are read (one ``chunks`` call at the end).
            # Each list is completed over the other's candidates, so a passage is never fused
            # as if one retriever had given it zero (``scoring.complete_scores``).
            dense, lexical = self._scores(vector, sparse_query, limit)
            visible = self._catalog.committed(cid for cid, _ in [*dense, *lexical])
            dense = [(cid, s) for cid, s in dense if cid in visible]
            lexical = [(cid, s) for cid, s in lexical if cid in visible]
            fused = fuse_id_scores([(dense, 1.0), (lexical, self._lexical_weight)])
            hits = read_hits(self._store, self._first_copies(fused, top_k))
        except ProviderError as exc:
            raise RetrievalError(f"search failed: {exc}") from exc
        return RetrievalResult(
            hits=hits,
            dense_best=max((s for _, s in dense), default=0.0),
            lexical_best=max((s for _, s in lexical), default=0.0),
            query_vector=vector,
            dense_scores=tuple(sorted((s for _, s in dense), reverse=True)[:DENSE_SCORES_KEPT]),
        )

    def _first_copies(self, fused: list[tuple[str, float]], top_k: int) -> list[tuple[str, float]]:
        """The best ``top_k`` of ``fused``, copies of documents ranked above left out.

        Documents are looked up for the head of the ranking only (twice ``top_k``, more if
        copies ate into it): ``owners`` costs twice what ``committed`` does per id.
        """
        head = 2 * top_k
        while True:
            kept = first_copies(fused[:head], self._catalog.owners(cid for cid, _ in fused[:head]))
            if len(kept) >= top_k or head >= len(fused):
                return kept[:top_k]
            head *= 2
