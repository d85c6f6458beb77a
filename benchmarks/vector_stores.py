"""Benchmark the vector stores: upsert, dense search before/after optimize, sparse search.

    PYTHONPATH=src python3 benchmarks/vector_stores.py [--edge-points 10000] [--server-points 2000]

Prints figures, asserts nothing. Dense vectors are random but clustered (real embeddings are), so
HNSW recall is meaningful; recall@10 is measured against numpy's exact cosine ranking. Sparse
vectors come from ``LexicalEncoder`` on real prose: 110-word passages (~150 model tokens) of the
docs-faq corpus when it is present, else synthetic text. ``server`` is qdrant-client's local mode
(brute force in Python), a stand-in for the API only; its timings say nothing about a server.
A search is scores, then the chunks of the top 10 (``_rules.search_dense``): what the
retriever reads for the passages it keeps.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from _rules import search_dense, search_sparse

from rag_chatbot.domain import Chunk, IndexedChunk, SparseVector
from rag_chatbot.providers.vector_stores.base import VectorStore
from rag_chatbot.retrieval.lexical import LexicalEncoder

CORPUS = Path("/work/shared/eval/docs-faq/corpus")
BATCH = 256  # what the ingestion pipeline hands the store per call


def load_texts(n: int, words: int, rng: random.Random) -> list[str]:
    pages = sorted(CORPUS.rglob("*.html")) if CORPUS.is_dir() else []
    texts: list[str] = []
    if pages:
        from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

        warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)

        for page in pages:
            tokens = BeautifulSoup(page.read_bytes(), "lxml").get_text(" ").split()
            texts += [" ".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]
    else:
        vocab = ["".join(rng.choices("bcdfgklmnprstvz", k=3)) + "o" for _ in range(20_000)]
        texts = [" ".join(rng.choices(vocab, k=words)) for _ in range(n)]
    rng.shuffle(texts)
    return [texts[i % len(texts)] for i in range(n)]


def clustered(n: int, dim: int, rng: np.random.Generator, centers: np.ndarray) -> np.ndarray:
    picks = centers[rng.integers(0, len(centers), size=n)]
    vectors: np.ndarray = picks + 0.35 * rng.standard_normal((n, dim)).astype(np.float32)
    normalised: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return normalised


def p50_ms(run: Callable[[int], object], count: int) -> float:
    run(0)  # warm-up: first call pays for page faults and lazy loads
    timings = []
    for i in range(count):
        start = time.perf_counter()
        run(i)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1000


def recall_at_10(
    store: VectorStore, queries: np.ndarray, vectors: np.ndarray, ids: list[str]
) -> float:
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    hits = 0
    for query, truth in zip(queries, exact, strict=True):
        found = {hit.chunk.id for hit in search_dense(store, query.tolist(), limit=10)}
        hits += len(found & {ids[i] for i in truth})
    return hits / (10 * len(queries))


def build_points(
    texts: Sequence[str], vectors: np.ndarray, encoder: LexicalEncoder
) -> list[IndexedChunk]:
    points = []
    for i, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
        chunk = Chunk(str(uuid.uuid4()), "doc", "bench.md", "Bench", ("Section",), "s", i, text)
        points.append(IndexedChunk(chunk, tuple(vector.tolist()), encoder.encode_document(text)))
    return points


def bench(
    name: str,
    store: VectorStore,
    points: list[IndexedChunk],
    queries: np.ndarray,
    sparse_queries: list[SparseVector],
    vectors: np.ndarray,
) -> None:
    ids = [p.chunk.id for p in points]
    start = time.perf_counter()
    for i in range(0, len(points), BATCH):
        store.upsert(points[i : i + BATCH])
    upsert_s = time.perf_counter() - start
    n = len(queries)
    dense_before = p50_ms(lambda i: search_dense(store, queries[i % n].tolist(), 10), n)
    recall_before = recall_at_10(store, queries, vectors, ids)
    start = time.perf_counter()
    store.optimize()
    optimize_s = time.perf_counter() - start
    dense_after = p50_ms(lambda i: search_dense(store, queries[i % n].tolist(), 10), n)
    recall_after = recall_at_10(store, queries, vectors, ids)
    sparse = p50_ms(lambda i: search_sparse(store, sparse_queries[i % n], 10), n)
    path = getattr(store, "path", None)
    hnsw = "n/a" if path is None else str(any(path.glob("segments/*/vector_index-dense/graph.bin")))
    print(
        f"{name:<22} n={len(points):>6}  upsert {upsert_s:6.2f} s ({len(points) / upsert_s:7.0f}/s)"
        f"  dense p50 {dense_before:7.2f} ms (recall@10 {recall_before:.3f})"
        f"  optimize {optimize_s:6.2f} s  dense p50 {dense_after:7.2f} ms"
        f" (recall@10 {recall_after:.3f}, hnsw {hnsw})  sparse p50 {sparse:7.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edge-points", type=int, default=10_000)
    parser.add_argument("--server-points", type=int, default=2_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--words", type=int, default=110, help="words per passage")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stores", default="edge,edge-noflush,server")
    args = parser.parse_args()

    rng, nrng = random.Random(args.seed), np.random.default_rng(args.seed)
    n = max(args.edge_points, args.server_points)
    centers = nrng.standard_normal((200, args.dim)).astype(np.float32)
    vectors = clustered(n, args.dim, nrng, centers)
    queries = clustered(args.queries, args.dim, nrng, centers)
    texts = load_texts(n + args.queries, args.words, rng)
    encoder = LexicalEncoder()
    start = time.perf_counter()
    points = build_points(texts[:n], vectors, encoder)
    encode_s = time.perf_counter() - start
    sparse_queries = [encoder.encode_query(" ".join(t.split()[:6])) for t in texts[n:]]
    print(f"encode_document: {n / encode_s:.0f} passages/s ({args.words} words each)")

    from rag_chatbot.providers.vector_stores.qdrant_edge import QdrantEdgeStore
    from rag_chatbot.providers.vector_stores.qdrant_server import QdrantServerStore

    with tempfile.TemporaryDirectory() as tmp:
        for name in args.stores.split(","):
            if name.startswith("edge"):
                count, flush = args.edge_points, name == "edge"
                store: VectorStore = QdrantEdgeStore(Path(tmp, name), args.dim, flush_writes=flush)
                label = f"qdrant-edge (flush={flush})"
            else:
                from qdrant_client import QdrantClient

                count, label = args.server_points, "qdrant-client local"
                store = QdrantServerStore(
                    QdrantClient(path=str(Path(tmp, name))), "bench", args.dim
                )
            try:
                bench(label, store, points[:count], queries, sparse_queries, vectors[:count])
            finally:
                store.close()


if __name__ == "__main__":
    main()
