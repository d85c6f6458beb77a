"""The ``Embedder`` protocol: text in, unit-length vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns passages and queries into dense vectors.

    Contract:
    - ``name`` identifies the model (it names the vector collection, so two models never mix);
      ``dimension`` is the vector length; ``max_tokens`` is the model window in word pieces,
      special tokens included: input beyond it is truncated by the model.
    - ``embed(texts)`` returns a float32 array of shape ``(len(texts), dimension)`` whose rows
      have unit L2 norm, in input order; an empty input gives shape ``(0, dimension)``.
      It batches internally (``EMBEDDING_BATCH_SIZE``). Raises ``EmbeddingError`` on failure.
    - ``embed_queries(texts)`` is ``embed`` for search queries, in the same vector space: a
      model may run them another way (short texts, one at a time, on every request), and
      its vectors may differ from ``embed``'s by that way's rounding (cosine about 0.99).
    - ``count_tokens(text)`` is the number of word pieces the model sees for ``text``,
      special tokens included, without truncation.
    """

    name: str
    dimension: int
    max_tokens: int

    def embed(self, texts: Sequence[str]) -> Vectors: ...

    def embed_queries(self, texts: Sequence[str]) -> Vectors: ...

    def count_tokens(self, text: str) -> int: ...
