"""The per-topic and per-page reports, computed for one page of results at a time.

A topic is named by its most central question (nearest the weighted mean of its questions'
vectors) and by its distinctive words (tf-idf against the other topics listed with it).

A *gap* is a topic with failed questions: declined (``unanswered``) or rated down
(``disliked``). It is *closed* when each kind it has is resolved: the declined ones when the
documents now answer its label question (``Coverage``: after a re-ingest, the same question
passes the grounding check) or a reader's repeat of one of them was answered since; the
disliked ones when one of them was asked again since and answered without a rating down.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from rag_chatbot.analytics.clustering import central, distinctive_words
from rag_chatbot.analytics.coverage import Coverage, Covered
from rag_chatbot.analytics.periods import Period
from rag_chatbot.db.analytics import AnalyticsQueries, TextStats, TopicStats
from rag_chatbot.db.topics import TopicStore
from rag_chatbot.domain import reader_url

EXAMPLES = 10  # questions listed per topic
PAGES = 5  # cited pages listed per topic
_LABEL_TEXTS = 200  # the most asked texts of a topic that its label is chosen from


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _later(a: datetime | None, b: datetime | None) -> bool:
    return a is not None and (b is None or a > b)


def _labels(
    store: TopicStore, groups: Sequence[Sequence[tuple[TextStats, int]]]
) -> list[tuple[str, list[str]]]:
    """Each group's (label, distinctive words); a group is ``(text, weight)``, most asked first."""
    vectors = store.vectors([t.text_hash for group in groups for t, _ in group[:_LABEL_TEXTS]])
    labels = []
    for group in groups:
        kept = [(t, w) for t, w in group[:_LABEL_TEXTS] if t.text_hash in vectors]
        if not kept:
            labels.append(group[0][0].text if group else "")
            continue
        matrix = np.stack([vectors[t.text_hash] for t, _ in kept])
        labels.append(kept[central(matrix, [w for _, w in kept])][0].text)
    words = distinctive_words([[(t.text, w) for t, w in group] for group in groups])
    return list(zip(labels, words, strict=True))


def _by_topic(texts: Sequence[TextStats]) -> dict[int, list[TextStats]]:
    grouped: dict[int, list[TextStats]] = defaultdict(list)
    for text in texts:
        grouped[text.topic].append(text)
    return grouped


def _status(stats: TopicStats, failing: Sequence[TextStats], covered: Covered | None) -> str:
    repeats_answered = [t for t in failing if _later(t.last_succeeded, t.last_failed)]
    unanswered_done = (
        stats.unanswered == 0
        or (covered is not None and covered.answered)
        or any(t.unanswered for t in repeats_answered)
    )
    disliked_done = stats.disliked == 0 or any(t.disliked for t in repeats_answered)
    return "closed" if unanswered_done and disliked_done else "open"


def gap_reports(
    queries: AnalyticsQueries,
    store: TopicStore,
    coverage: Coverage | None,
    period: Period,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """``{"gaps": [...], "total"}``: gap topics by failed questions (then latest), paged."""
    start, end = period.start, period.end
    stats = [s for s in queries.topic_stats(start, end) if s.failed]
    stats.sort(key=lambda s: (-s.failed, -(s.last_failed or start).timestamp(), s.topic))
    page = stats[offset : offset + limit]
    texts = _by_topic(queries.topic_texts(start, end, [s.topic for s in page]))
    failing = {s.topic: [t for t in texts[s.topic] if t.unanswered or t.disliked] for s in page}
    named = _labels(
        store, [[(t, t.unanswered + t.disliked) for t in failing[s.topic]] for s in page]
    )
    version = coverage.version() if coverage is not None else None
    gaps = []
    for s, (label, words) in zip(page, named, strict=True):
        covered = coverage.look(label, version) if coverage is not None and label else None
        gaps.append(
            {
                "id": s.topic,
                "label": label,
                "keywords": words,
                "status": _status(s, failing[s.topic], covered),
                "count": s.failed,
                "unanswered": s.unanswered,
                "disliked": s.disliked,
                "asked": s.asked,
                "askers": s.askers,
                "first_seen": iso(s.first_failed),
                "last_seen": iso(s.last_failed),
                "questions": [t.text for t in failing[s.topic][:EXAMPLES]],
                "nearest": [
                    {"source": p.source, "title": p.title, "section": p.section, "url": p.url}
                    for p in (covered.nearest if covered is not None else ())
                ],
                "confidence": covered.confidence if covered is not None else None,
            }
        )
    return {"gaps": gaps, "total": len(stats)}


def question_reports(
    queries: AnalyticsQueries, store: TopicStore, period: Period, limit: int, offset: int
) -> dict[str, Any]:
    """``{"topics": [...], "total"}``: every topic by questions asked (then latest), paged."""
    start, end = period.start, period.end
    stats = queries.topic_stats(start, end)
    stats.sort(key=lambda s: (-s.asked, -s.last_asked.timestamp(), s.topic))
    page = stats[offset : offset + limit]
    topics = [s.topic for s in page]
    texts = _by_topic(queries.topic_texts(start, end, topics))
    cited: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for topic, source, count in queries.topic_sources(start, end, topics):
        cited[topic].append((source, count))
    titles = dict(queries.documents()) if cited else {}
    named = _labels(store, [[(t, t.asked) for t in texts[s.topic]] for s in page])
    found = []
    for s, (label, words) in zip(page, named, strict=True):
        found.append(
            {
                "id": s.topic,
                "label": label,
                "keywords": words,
                "count": s.asked,
                "askers": s.askers,
                "answered": s.grounded,
                "answered_share": round(s.grounded / s.asked, 4) if s.asked else 0.0,
                "unanswered": s.unanswered,
                "disliked": s.disliked,
                "last_seen": iso(s.last_asked),
                "questions": [
                    {"text": t.text, "count": t.asked} for t in texts[s.topic][:EXAMPLES]
                ],
                "pages": [
                    {
                        "source": source,
                        "title": titles.get(source, ""),
                        "url": reader_url(source, ""),
                        "count": count,
                    }
                    for source, count in cited[s.topic][:PAGES]
                ],
            }
        )
    return {"topics": found, "total": len(stats)}


def page_reports(
    queries: AnalyticsQueries, period: Period, limit: int, offset: int
) -> dict[str, Any]:
    """Cited documents by answers citing them, and the indexed documents never cited; both
    lists paged by ``limit`` and ``offset``."""
    usage = queries.page_usage(period.start, period.end)
    documents = dict(queries.documents())
    pages = [
        {
            "source": source,
            "title": documents.get(source, ""),
            "url": reader_url(source, ""),
            "indexed": source in documents,
            "cited": cited,
            "up": up,
            "down": down,
        }
        for source, cited, up, down in usage
    ]
    used = {source for source, *_ in usage}
    never = [
        {"source": source, "title": title, "url": reader_url(source, "")}
        for source, title in documents.items()
        if source not in used
    ]
    return {
        "pages": pages[offset : offset + limit],
        "total": len(pages),
        "never_cited": never[offset : offset + limit],
        "never_cited_total": len(never),
    }
