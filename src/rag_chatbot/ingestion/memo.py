"""Embed each distinct passage once per ingest run.

Documentation sets repeat themselves: a manual ships the same page under two names (the Git
manual's ``index.html`` and ``git.html``), and footers, licence notes and "see also" paragraphs
recur on many pages. A passage's vector depends only on its embedding text, so a text seen
before takes its vector from here instead of from the model.

The memo holds the most recent ``capacity`` vectors (384 float32 each: 8,192 of them are
12 MB), enough to cover a duplicate page ingested anywhere near its twin, without letting a
large corpus grow memory.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from rag_chatbot.providers.embedders.base import Vectors

CAPACITY = 8192


class VectorMemo:
    """The vectors of recently embedded texts, by a hash of the text; least recent dropped."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.reused = 0  # texts answered from the memo, for the ingest report

    def embed(
        self, texts: Sequence[str], embed: Callable[[list[str]], Vectors]
    ) -> list[np.ndarray]:
        """Vectors of ``texts`` in order; ``embed`` is called once, on the texts not known."""
        keys = [hashlib.blake2b(t.encode(), digest_size=16).digest() for t in texts]
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key in self._vectors:
                self._vectors.move_to_end(key)
            else:
                missing.setdefault(key, text)
        if missing:
            for key, vector in zip(missing, embed(list(missing.values())), strict=True):
                self._vectors[key] = vector
        self.reused += len(texts) - len(missing)
        out = [self._vectors[key] for key in keys]
        while len(self._vectors) > self.capacity:
            self._vectors.popitem(last=False)
        return out
