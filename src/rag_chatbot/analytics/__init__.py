"""What readers asked, for the people who write the documents: the analytics reports.

``build_analytics`` wires them from the parts a process already has (its engine, embedder,
retriever); ``Analytics`` (``service``) makes the reports; ``export`` writes them as CSV.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from rag_chatbot.analytics.coverage import Coverage
from rag_chatbot.analytics.periods import Period, period, since
from rag_chatbot.analytics.service import Analytics
from rag_chatbot.analytics.topics import TopicIndex
from rag_chatbot.answering.grounding import EvidenceReader, GroundingModel
from rag_chatbot.db.analytics import AnalyticsQueries
from rag_chatbot.db.topics import TopicStore
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.retrieval.hybrid import HybridRetriever
from rag_chatbot.retrieval.lexical import LexicalEncoder

__all__ = ["Analytics", "Period", "build_analytics", "period", "since"]


def build_analytics(
    engine: Engine,
    embedder: Embedder | None,
    *,
    retriever: HybridRetriever | None = None,
    lexical: LexicalEncoder | None = None,
    grounding_threshold: float = 0.6,
    index_version: Callable[[], str] | None = None,
) -> Analytics:
    """The reports over ``engine``. Without ``embedder`` only the summary and the pages (no
    topics); with a retriever (and its lexical encoder and the index's version), gaps get
    their nearest pages and are checked against the documents."""
    coverage = None
    if retriever is not None and lexical is not None and index_version is not None:
        coverage = Coverage(
            retriever,
            EvidenceReader(lexical),
            GroundingModel(threshold=grounding_threshold),
            index_version,
        )
    topics = TopicIndex(TopicStore(engine), embedder) if embedder is not None else None
    return Analytics(AnalyticsQueries(engine), topics, coverage)
