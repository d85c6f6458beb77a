"""Embed each distinct text once: the vectors of recently embedded texts, kept by a hash.

A text's vector depends only on the text, and the same texts come back:

- **at ingest**, documentation sets repeat themselves: a manual ships the same page under two
  names (the Git manual's ``index.html`` and ``git.html``), and footers, licence notes and
  "see also" paragraphs recur on many pages;
- **when answering**, readers ask about the same popular sections, so the sentences an answer
  weighs by meaning (``answering.selection``) are mostly ones weighed for an earlier question.
  Embedding them is most of an answer's CPU.

The memo holds the most recent ``capacity`` vectors (384 float32 each: 8,192 of them are
12 MB). It is safe to share between threads; the model runs outside its lock, so two threads
missing the same text at once may both embed it (the later one's vector is kept).
"""

from __future__ import annotations

import hashlib
import threading
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
        self._lock = threading.Lock()
        self.reused = 0  # texts answered from the memo (the ingest report shows it)

    def embed(
        self, texts: Sequence[str], embed: Callable[[list[str]], Vectors]
    ) -> list[np.ndarray]:
        """Vectors of ``texts`` in order; ``embed`` is called once, on the texts not known."""
        keys = [hashlib.blake2b(t.encode(), digest_size=16).digest() for t in texts]
        found: dict[bytes, np.ndarray] = {}
        missing: dict[bytes, str] = {}
        with self._lock:
            for key, text in zip(keys, texts, strict=True):
                vector = self._vectors.get(key)
                if vector is None:
                    missing.setdefault(key, text)
                else:
                    self._vectors.move_to_end(key)
                    found[key] = vector
        if missing:
            found.update(zip(missing, embed(list(missing.values())), strict=True))
        with self._lock:
            for key in missing:
                self._vectors[key] = found[key]
            while len(self._vectors) > self.capacity:
                self._vectors.popitem(last=False)
            self.reused += len(texts) - len(missing)
        return [found[key] for key in keys]
