"""BM25 term weights for lexical search, computed with Qdrant's own tokenizer and stemmer.

The encoder gives each text a ``SparseVector`` of term weights; it keeps no statistics. IDF is
applied by the vector store (Qdrant's ``Modifier.IDF``), so document frequencies live in the index
and every process that encodes a query gets the same vector without loading a corpus.
"""

from __future__ import annotations

import re

from qdrant_edge import Bm25, Bm25Config, TokenizerType

from rag_chatbot.domain import SparseVector
from rag_chatbot.errors import ConfigError

# Identifiers that the tokenizer splits into parts without also keeping them whole: dotted names
# (``user.name``, ``os.path.join``), hyphenated commands (``git-rebase``), C++ scopes
# (``std::vector``) and paths (``src/main.py``). ``snake_case`` and ``camelCase`` are not here:
# the Code tokenizer already emits their parts and the joined whole. A match starts at a word's
# start and its runs are possessive: the plain ``\w+(...)+`` retried every position inside every
# word and took 11 us of a sentence's 18 us (the answer's sentences are encoded one by one).
_COMPOUND = re.compile(r"(?<!\w)\w++(?:(?:[./-]|::)\w++)+")
_NOT_ALNUM = re.compile(r"[\W_]+")
_LETTER = re.compile(r"[^\W\d_]")


class LexicalEncoder:
    """Turns text into BM25 term weights (English stopwords and Snowball stemming).

    Contract:
    - ``encode_document`` weights each term by its saturated, length-normalised frequency
      ``tf * (k + 1) / (tf + k * (1 - b + b * len / avg_len))``; ``encode_query`` gives each
      unique term weight 1.0. Term ids are Qdrant's BM25 token hashes, so vectors made here match
      those of Qdrant's ``bm25`` model with the same settings (plus the joined identifiers below).
    - Compound identifiers also yield their joined, lowercased form as one extra term
      (``git-rebase`` -> ``gitrebase``), so an exact identifier outranks its parts in any order.
    - Empty text, or text made only of stopwords and punctuation, gives an empty vector.
    - Indices are unique and ascending. The encoder is stateless and safe to share.
    """

    def __init__(self, avg_len: float = 150.0, *, k: float = 1.2, b: float = 0.75) -> None:
        """``avg_len`` is the expected length of a chunk in tokens; ``k``, ``b`` as in BM25."""
        if avg_len <= 0 or k < 0 or not 0.0 <= b <= 1.0:
            raise ConfigError(f"invalid BM25 parameters: avg_len={avg_len}, k={k}, b={b}")
        self.avg_len = avg_len
        # The Code tokenizer is the Word tokenizer plus identifier splitting: SQLITE_SCHEMA gives
        # sqlite, schema and sqliteschema; getUserName gives get, user, name and getusername.
        self._model = Bm25(
            Bm25Config(k=k, b=b, avg_len=avg_len, language="english", tokenizer=TokenizerType.Code)
        )

    def encode_document(self, text: str) -> SparseVector:
        """Term-frequency weights of a passage to be indexed."""
        if not text.strip():
            return SparseVector(indices=(), values=())
        vector = self._model.embed_document(_with_joined_identifiers(text))
        return _sorted(vector.indices, vector.values)

    def encode_query(self, text: str) -> SparseVector:
        """Weight 1.0 for each unique term of a query."""
        if not text.strip():
            return SparseVector(indices=(), values=())
        vector = self._model.embed_query(_with_joined_identifiers(text))
        return _sorted(vector.indices, vector.values)

    def query_terms(self, text: str) -> frozenset[int]:
        """The term ids of ``encode_query(text)``, unordered: for comparing texts' words."""
        if not text.strip():
            return frozenset()
        return frozenset(self._model.embed_query(_with_joined_identifiers(text)).indices)


def _with_joined_identifiers(text: str) -> str:
    """The text followed by one joined word per compound identifier it contains."""
    joined = [
        _NOT_ALNUM.sub("", match).lower()
        for match in _COMPOUND.findall(text)
        # Version numbers, dates and addresses (1.3, 2024-01-31) are not identifiers.
        if _LETTER.search(match)
    ]
    return f"{text}\n{' '.join(joined)}" if joined else text


def _sorted(indices: list[int], values: list[float]) -> SparseVector:
    pairs = sorted(zip(indices, values, strict=True))
    return SparseVector(
        indices=tuple(i for i, _ in pairs), values=tuple(float(v) for _, v in pairs)
    )
