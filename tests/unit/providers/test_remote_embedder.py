"""The remote embedder against a real HTTP server on a loopback port (a scripted stand-in).

Batching, requests at once, retries, the probe, and each way a server can fail or answer
garbage: every failure is one line that names the server and never the key.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import numpy as np
import pytest
from embedding_standin import DIMENSION, Reply, free_port, serve, unit_rows

from rag_chatbot.errors import EmbeddingError
from rag_chatbot.providers.embedders import HashingEmbedder
from rag_chatbot.providers.embedders.onnx import load_tokenizer
from rag_chatbot.providers.embedders.remote import OpenAIEmbedder
from rag_chatbot.providers.generators.base import RetryPolicy

KEY = "sk-test-secret-key-0123456789"
NAN = base64.b64encode(np.full(DIMENSION, np.nan, dtype="<f4").tobytes()).decode()
TEXTS = [f"passage {n} about lighthouses, tides and the keeper's log" for n in range(70)]


def embedder(base: str, **options: object) -> OpenAIEmbedder:
    """A remote embedder that records its waits instead of sleeping."""
    waits: list[float] = []
    settings: dict[str, object] = {"base_url": base, "api_key": KEY, "sleep": waits.append}
    remote = OpenAIEmbedder("test-model", **{**settings, **options})  # type: ignore[arg-type]
    remote.waits = waits  # type: ignore[attr-defined]
    return remote


def test_batches_go_out_a_few_at_once_and_come_back_in_order() -> None:
    with serve(delay=0.05) as server:
        remote = embedder(server.base, batch_size=8, concurrency=3)
        vectors = remote.embed(TEXTS)
        again = remote.embed_queries(TEXTS[:2])

    np.testing.assert_allclose(vectors, HashingEmbedder(DIMENSION).embed(TEXTS), atol=1e-6)
    probe, *batches = server.requests[:10]  # then the queries' request
    assert len(probe["input"]) == 1 and remote.dimension == DIMENSION
    assert sorted(len(b["input"]) for b in batches) == [6] + [8] * 8
    assert all(b["model"] == "test-model" and b["encoding_format"] == "float" for b in batches)
    assert server.most_in_flight == 3
    assert {h["authorization"] for h in server.headers} == {f"Bearer {KEY}"}
    assert remote.embed([]).shape == (0, DIMENSION)  # no request
    np.testing.assert_array_equal(again, vectors[:2])


def test_a_known_dimension_skips_the_probe_and_no_key_sends_no_header() -> None:
    with serve() as server:
        remote = embedder(server.base, api_key=None, dimension=DIMENSION)
        assert server.requests == []
        remote.embed(["one"])
    assert "authorization" not in server.headers[0]


def test_a_server_that_does_not_normalise_and_base64_vectors_are_read() -> None:
    vector = np.arange(1, DIMENSION + 1, dtype="<f4")
    encoded = base64.b64encode(vector.tobytes()).decode()
    payload = {"data": [{"index": 0, "embedding": encoded}]}
    with serve([Reply(scale=3.0), Reply(payload=payload)]) as server:
        remote = embedder(server.base, dimension=DIMENSION)
        scaled = remote.embed(["a", "b"])
        decoded = remote.embed(["c"])
    assert unit_rows(scaled)
    np.testing.assert_allclose(decoded[0], vector / np.linalg.norm(vector), atol=1e-6)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_failure_then_an_answer_is_retried_with_backoff(status: int) -> None:
    with serve([Reply(status=status)]) as server:
        remote = embedder(server.base, dimension=DIMENSION)
        vectors = remote.embed(["tide tables"])
    assert len(server.requests) == 2
    assert remote.waits and 0 <= remote.waits[0] <= 0.5  # type: ignore[attr-defined]
    assert unit_rows(vectors)


def test_retries_run_out_with_one_line_naming_the_server() -> None:
    with serve([Reply(status=503)] * 3) as server:
        remote = embedder(server.base, dimension=DIMENSION, retry=RetryPolicy(retries=2))
        with pytest.raises(EmbeddingError) as failed:
            remote.embed(["tide tables"])
    message = str(failed.value)
    assert message == (f"embedding server {server.base}/embeddings answered HTTP 503 (3 attempts)")
    assert len(server.requests) == 3


def test_a_refusal_is_not_retried_and_the_key_is_never_shown() -> None:
    with serve([Reply(status=401)]) as server:
        remote = embedder(server.base, dimension=DIMENSION)
        with pytest.raises(EmbeddingError) as failed:
            remote.embed(["tide tables"])
    assert len(server.requests) == 1
    assert str(failed.value) == (
        f"embedding server {server.base}/embeddings refused the request: HTTP 401: "
        "scripted failure 401"
    )
    assert KEY not in str(failed.value)


def test_an_unreachable_server_stops_the_start_with_one_line() -> None:
    port = free_port()  # nobody listens there
    with pytest.raises(EmbeddingError) as failed:
        embedder(f"http://someone:password@127.0.0.1:{port}/v1", retry=RetryPolicy(retries=1))
    message = str(failed.value)
    assert message.startswith(
        f"cannot reach the embedding server http://127.0.0.1:{port}/v1/embeddings: ConnectError"
    )
    assert message.endswith("(2 attempts)") and "\n" not in message
    assert "password" not in message and KEY not in message


def test_a_slow_server_times_out_without_a_retry() -> None:
    with serve([Reply(delay=1.0)]) as server:
        remote = embedder(server.base, dimension=DIMENSION, timeout=0.2)
        with pytest.raises(EmbeddingError, match=r"did not answer within 0\.2 s"):
            remote.embed(["tide tables"])
    assert len(server.requests) == 1


GARBAGE: list[tuple[Reply, str]] = [
    (Reply(raw=b"<html>gateway</html>"), "answered something that is not JSON (text/html"),
    (Reply(payload={"object": "list"}), "answered JSON without a 'data' list"),
    (Reply(payload=[1, 2]), "answered JSON without a 'data' list"),
    (Reply(drop=1), "answered 1 vectors for 2 texts"),
    (Reply(dimension=12), "answered 12-dimensional vectors, expected 8"),
    (Reply(payload={"data": [{"embedding": "x"}] * 2}), "answered items that are not embeddings"),
    (Reply(payload={"data": [{"vector": [1.0]}] * 2}), "answered items that are not embeddings"),
    (
        Reply(payload={"data": [{"embedding": ["a"] * 8}] * 2}),
        "answered items that are not embeddings",
    ),
    (Reply(payload={"data": [{"embedding": [0.0] * 8}] * 2}), "answered a vector of zeros"),
    (
        Reply(payload={"data": [{"embedding": [1.0] * 8}, {"embedding": [1.0] * 7}]}),
        "vectors of different lengths",
    ),
    (Reply(payload={"data": [{"embedding": []}] * 2}), "vectors of different lengths, or empty"),
    (Reply(payload={"data": [{"embedding": NAN}] * 2}), "values that are not finite numbers"),
]


@pytest.mark.parametrize(("reply", "said"), GARBAGE)
def test_garbage_is_a_clear_error(reply: Reply, said: str) -> None:
    with serve([reply]) as server:
        remote = embedder(server.base, dimension=DIMENSION)
        with pytest.raises(EmbeddingError) as failed:
            remote.embed(["one", "two"])
    message = str(failed.value)
    assert message.startswith(f"embedding server {server.base}/embeddings ")
    assert said in message and "\n" not in message
    assert len(server.requests) == 1  # garbage is not retried


def test_a_wrong_dimension_at_the_probe_is_learned_then_held() -> None:
    with serve([Reply(dimension=5)]) as server:
        remote = embedder(server.base)
        assert remote.dimension == 5
        with pytest.raises(EmbeddingError, match="answered 8-dimensional vectors, expected 5"):
            remote.embed(["one"])


def test_tokens_are_counted_with_the_shipped_tokenizer() -> None:
    counter: Callable[[str], int] = lambda t: len(load_tokenizer(truncate=False).encode(t).ids)  # noqa: E731
    with serve() as server:
        remote = embedder(server.base, dimension=DIMENSION, max_tokens=512)
    text = "Lighthouse lenses are cleaned every morning with a soft linen cloth. " * 40
    assert remote.count_tokens(text) == counter(text) > 256
    assert remote.max_tokens == 512 and remote.name == "test-model"
