"""A deterministic feature-hashing embedder: a test double for fast unit tests, never a default."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from rag_chatbot.providers.embedders.base import Vectors

_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """Test double: hashes lowercase word tokens into a signed bag-of-words vector.

    Never a default and never the only test of a path users take: it has no notion of meaning,
    only of shared words. It exists so that logic around an ``Embedder`` (chunking, indexing,
    fusion) can be unit-tested in milliseconds without loading a model.

    Contract: the ``Embedder`` protocol. Same text, same vector, in every process (blake2b, not
    the salted built-in ``hash``). Rows have unit norm; a text with no word tokens (or whose
    hashed counts cancel out) gets a fixed unit vector, the first basis vector.
    ``count_tokens`` is the number of whitespace-separated tokens plus 2 ([CLS] and [SEP]).
    """

    name = "hashing-test"
    max_tokens = 256

    def __init__(self, dimension: int = 64) -> None:
        if dimension < 1:
            raise ValueError(f"dimension must be >= 1, got {dimension}")
        self.dimension = dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` in order: unit rows of float32, shape ``(len(texts), dimension)``."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                # The top bit picks the sign so collisions cancel on average instead of piling up.
                sign = 1.0 if value >> 63 else -1.0
                out[row, value % self.dimension] += sign
            norm = float(np.linalg.norm(out[row]))
            if norm == 0.0:
                out[row, 0] = 1.0
            else:
                out[row] /= norm
        return out

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.embed(texts)

    def count_tokens(self, text: str) -> int:
        """Whitespace-separated tokens plus 2, standing in for [CLS] and [SEP]."""
        return len(text.split()) + 2
