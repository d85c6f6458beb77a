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
    - ``count_tokens(text)`` is the number of word pieces the model sees for ``text``,
      special tokens included, without truncation.
    """

    name: str
    dimension: int
    max_tokens: int

    def embed(self, texts: Sequence[str]) -> Vectors: ...

    def count_tokens(self, text: str) -> int: ...
