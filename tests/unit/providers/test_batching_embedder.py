"""BatchingEmbedder: concurrent callers share model calls and each gets its own vectors."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest

from rag_chatbot.errors import EmbeddingError
from rag_chatbot.providers.embedders.base import Embedder, Vectors
from rag_chatbot.providers.embedders.batching import BatchingEmbedder

QUERIES = [
    "How do I undo the last commit?",
    "What does WAL mode change in SQLite?",
    "Quick question. How do I find the commit that introduced a bug?",
    "What is photosynthesis?",
    "Docs question: how is the cache invalidated?",
    "hi",
    "Please tell me: which port does the server listen on?",
    "What are the rate limits per user?",
]


class Gated:
    """The real model behind a gate: a call starts only when the test opens it.

    Holding the first call lets the test queue others behind it deterministically; ``fail_on``
    makes a call that contains that text fail the way the model reports errors.
    """

    def __init__(self, inner: Embedder, fail_on: str | None = None) -> None:
        self.inner = inner
        self.name, self.dimension, self.max_tokens = inner.name, inner.dimension, inner.max_tokens
        self.fail_on = fail_on
        self.gate = threading.Event()
        self.entered = threading.Semaphore(0)
        self.calls: list[list[str]] = []

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        self.entered.release()
        assert self.gate.wait(10)
        if self.fail_on is not None and self.fail_on in texts:
            raise EmbeddingError(f"cannot embed {self.fail_on!r}")
        return self.inner.embed(texts)


def _queue_behind_first(
    batching: BatchingEmbedder, gated: Gated, texts: list[list[str]]
) -> tuple[ThreadPoolExecutor, list[Future[Vectors]]]:
    """Start one caller per item of ``texts``; the first holds the model until all queued."""
    pool = ThreadPoolExecutor(len(texts))
    futures = [pool.submit(batching.embed, texts[0])]
    assert gated.entered.acquire(timeout=10)  # the first call is in the model
    futures += [pool.submit(batching.embed, t) for t in texts[1:]]
    for _ in range(200):  # until every other caller waits in the queue
        if len(batching._queue) == len(texts) - 1:
            break
        threading.Event().wait(0.01)
    assert len(batching._queue) == len(texts) - 1
    gated.gate.set()
    return pool, futures


def test_each_caller_gets_the_vectors_of_its_own_texts(onnx_embedder: Embedder) -> None:
    batching = BatchingEmbedder(onnx_embedder)
    expected = onnx_embedder.embed(QUERIES)
    with ThreadPoolExecutor(8) as pool:
        for _ in range(5):
            results = list(pool.map(lambda q: batching.embed([q]), QUERIES))
            for row, got in zip(expected, results, strict=True):
                assert got.shape == (1, 384)
                np.testing.assert_allclose(got[0], row, atol=1e-5)


def test_callers_waiting_together_share_one_model_call(onnx_embedder: Embedder) -> None:
    gated = Gated(onnx_embedder)
    batching = BatchingEmbedder(gated)
    texts = [[q] for q in QUERIES[:5]] + [QUERIES[5:8]]
    pool, futures = _queue_behind_first(batching, gated, texts)
    results = [f.result(timeout=30) for f in futures]
    pool.shutdown()
    # The first call alone (it started before the others), then all the waiting ones at once.
    assert gated.calls == [texts[0], [t for group in texts[1:] for t in group]]
    for group, got in zip(texts, results, strict=True):
        np.testing.assert_allclose(got, onnx_embedder.embed(group), atol=1e-5)


def test_a_batch_holds_at_most_max_texts(onnx_embedder: Embedder) -> None:
    gated = Gated(onnx_embedder)
    batching = BatchingEmbedder(gated, max_texts=3)
    texts = [[q] for q in QUERIES[:7]]
    pool, futures = _queue_behind_first(batching, gated, texts)
    results = [f.result(timeout=30) for f in futures]
    pool.shutdown()
    assert [len(c) for c in gated.calls] == [1, 3, 3]
    assert sorted(t for c in gated.calls for t in c) == sorted(QUERIES[:7])  # none lost
    for group, got in zip(texts, results, strict=True):
        np.testing.assert_allclose(got, onnx_embedder.embed(group), atol=1e-5)


def test_a_failed_call_fails_each_of_its_callers_and_the_queue_goes_on(
    onnx_embedder: Embedder,
) -> None:
    gated = Gated(onnx_embedder, fail_on="hi")
    batching = BatchingEmbedder(gated, max_texts=3)
    # Call 1: QUERIES[0]; call 2: QUERIES[1], "hi", QUERIES[2] (fails); call 3: the rest.
    texts = [[QUERIES[0]], [QUERIES[1]], ["hi"], [QUERIES[2]], [QUERIES[3]], [QUERIES[4]]]
    pool, futures = _queue_behind_first(batching, gated, texts)
    outcomes: list[object] = []
    for future in futures:
        try:
            outcomes.append(future.result(timeout=30).shape)
        except EmbeddingError:
            outcomes.append("error")
    pool.shutdown()
    assert outcomes == [(1, 384), "error", "error", "error", (1, 384), (1, 384)]
    # Not stuck: a later caller leads a call of its own.
    assert batching.embed(["after"]).shape == (1, 384)
    assert not batching._queue and not batching._busy


def test_large_or_long_requests_bypass_the_queue_and_empty_ones_make_no_call(
    onnx_embedder: Embedder,
) -> None:
    gated = Gated(onnx_embedder)
    gated.gate.set()
    batching = BatchingEmbedder(gated, max_texts=4)
    assert batching.embed([]).shape == (0, 384)
    assert gated.calls == []
    passages = QUERIES[:6]
    np.testing.assert_allclose(batching.embed(passages), onnx_embedder.embed(passages), atol=1e-5)
    long_question = " ".join(QUERIES) * 4  # over max_chars (1024) in one text
    batching.embed([long_question])
    assert gated.calls == [passages, [long_question]] and batching.calls == 0


def test_many_threads_lose_no_request(onnx_embedder: Embedder) -> None:
    batching = BatchingEmbedder(onnx_embedder, max_texts=5)
    asks = [[QUERIES[i % len(QUERIES)]] * (1 + i % 3) for i in range(120)]
    expected = {q: onnx_embedder.embed([q])[0] for q in QUERIES}
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(batching.embed, asks))
    for group, got in zip(asks, results, strict=True):
        assert got.shape == (len(group), 384)
        for text, row in zip(group, got, strict=True):
            np.testing.assert_allclose(row, expected[text], atol=1e-5)
    assert batching.calls < len(asks)  # some calls were shared
    assert not batching._queue and not batching._busy


def test_rejects_limits_below_one(onnx_embedder: Embedder) -> None:
    with pytest.raises(ValueError):
        BatchingEmbedder(onnx_embedder, max_texts=0)
    with pytest.raises(ValueError):
        BatchingEmbedder(onnx_embedder, max_chars=0)
