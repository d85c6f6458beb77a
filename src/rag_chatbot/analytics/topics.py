"""TopicIndex: asked questions put into topics as they arrive, each embedded once.

``refresh`` finds the question texts that have no vector yet, embeds them with the server's
model (``Embedder.embed_queries``, outside any lock), then — under the topics' lock, where
another process may have done part of the work meanwhile — puts the ones still new into
topics (``clustering.assign``) and stores vectors and topics together. A change of embedding
model starts the topics afresh, since vectors of two models cannot be compared.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import numpy as np

from rag_chatbot.analytics.clustering import Topics, assign
from rag_chatbot.db.models import utcnow
from rag_chatbot.db.topics import NewText, TopicStore, from_bytes, to_bytes
from rag_chatbot.providers.embedders.base import Embedder

TOPIC_THRESHOLD = 0.3
"""The cosine to a topic's centroid that makes a question one of its members.

Paraphrases of one short question sit about 0.3 to 0.8 apart with the default model, and
questions on unrelated subjects below 0.25: the threshold is the gap between them.
"""
BATCH = 256
# Questions of writers whose clocks or commits lag: looked at again on the next refresh.
_LAG = timedelta(minutes=10)


class TopicIndex:
    """Keeps ``question_vectors`` and ``question_topics`` up to date with ``questions``."""

    def __init__(
        self,
        store: TopicStore,
        embedder: Embedder,
        *,
        threshold: float = TOPIC_THRESHOLD,
        most_per_refresh: int = 5000,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._threshold = threshold
        self._most = most_per_refresh
        self._seen_up_to: datetime | None = None  # every earlier question has a vector
        self._lock = threading.Lock()

    @property
    def store(self) -> TopicStore:
        return self._store

    def refresh(self) -> int:
        """Group the questions asked since the last refresh; how many are still waiting.

        At most ``most_per_refresh`` new texts a call (a first look at a large history takes
        several); the count returned is of texts left for the next call.
        """
        with self._lock:
            since = self._seen_up_to - _LAG if self._seen_up_to is not None else None
            looked_at = utcnow()
            waiting = self._store.new_texts(self._most + 1, since)
            batch, more = waiting[: self._most], len(waiting) > self._most
            for start in range(0, len(batch), BATCH):
                self._group(batch[start : start + BATCH])
            if more:
                return len(self._store.new_texts(self._most, since))
            self._seen_up_to = looked_at
            return 0

    def _group(self, texts: list[NewText]) -> None:
        vectors = self._embedder.embed_queries([t.text for t in texts]).astype(np.float32)
        model = self._embedder.name
        with self._store.locked() as connection:
            if self._store.model(connection) not in (None, model):
                self._store.clear(connection)
                self._seen_up_to = None
            known = self._store.known(connection, [t.text_hash for t in texts])
            keep = [i for i, t in enumerate(texts) if t.text_hash not in known]
            if not keep:
                return
            ids, sums, members = self._store.topics(connection)
            dimension = vectors.shape[1]
            topics = Topics(
                list(ids),
                np.stack([from_bytes(s) for s in sums]).astype(np.float32).copy()
                if sums
                else np.zeros((0, dimension), dtype=np.float32),
                list(members),
            )
            chosen = assign(vectors[keep], topics, self._threshold, max(ids, default=0) + 1)
            position = {topic: i for i, topic in enumerate(topics.ids)}

            def state(topic: int) -> tuple[int, bytes, int]:
                i = position[topic]
                return topic, to_bytes(topics.sums[i]), topics.members[i]

            self._store.save(
                connection,
                model,
                [
                    (texts[i].text_hash, topic, to_bytes(vectors[i]))
                    for i, topic in zip(keep, chosen.topics, strict=True)
                ],
                [state(t) for t in chosen.started],
                [state(t) for t in chosen.changed],
            )
