"""Incremental centroid clustering and topic names, on vectors made to order."""

from __future__ import annotations

import numpy as np
import pytest

from rag_chatbot.analytics.clustering import (
    Matrix,
    Topics,
    assign,
    central,
    distinctive_words,
    words,
)


def _unit(*rows: list[float]) -> Matrix:
    matrix = np.array(rows, dtype=np.float32)
    unit: Matrix = (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)
    return unit


# Two directions with noise: a topic each, plus a vector between nothing.
PRICES = [[1.0, 0.1, 0.0, 0.0], [0.9, 0.2, 0.1, 0.0], [1.0, 0.0, 0.2, 0.0]]
API = [[0.0, 0.0, 1.0, 0.1], [0.1, 0.0, 0.9, 0.2]]
LONER = [[0.0, 1.0, 0.0, -1.0]]


def test_near_vectors_share_a_topic_and_far_ones_start_their_own() -> None:
    topics = Topics.empty(4)
    vectors = _unit(*PRICES, *API, *LONER)
    done = assign(vectors, topics, threshold=0.6, next_id=1)
    assert done.topics == [1, 1, 1, 2, 2, 3]
    assert done.started == [1, 2, 3] and done.changed == []
    assert topics.members == [3, 2, 1]
    assert np.allclose(topics.sums[0], vectors[:3].sum(axis=0))


def test_a_later_batch_joins_the_existing_topics() -> None:
    topics = Topics.empty(4)
    assign(_unit(*PRICES[:1], *API[:1]), topics, threshold=0.6, next_id=1)
    later = assign(_unit(*API[1:], *PRICES[1:], *LONER), topics, threshold=0.6, next_id=3)
    assert later.topics == [2, 1, 1, 3]
    assert later.changed == [1, 2] and later.started == [3]
    assert topics.ids == [1, 2, 3] and topics.members == [3, 2, 1]


def test_the_same_questions_in_the_same_order_give_the_same_topics() -> None:
    rng = np.random.default_rng(7)
    vectors = _unit(*rng.normal(size=(200, 16)).tolist())
    first = assign(vectors, Topics.empty(16), threshold=0.3, next_id=1)
    again = assign(vectors.copy(), Topics.empty(16), threshold=0.3, next_id=1)
    assert first.topics == again.topics


@pytest.mark.parametrize("threshold", [0.0, 1.01])
def test_the_threshold_decides_alone(threshold: float) -> None:
    topics = Topics.empty(4)
    done = assign(_unit(*PRICES, *API), topics, threshold=threshold, next_id=10)
    expected = [10] * 5 if threshold == 0.0 else [10, 11, 12, 13, 14]
    assert done.topics == expected


def test_the_central_question_is_nearest_the_weighted_mean() -> None:
    vectors = _unit([1, 0, 0, 0], [0.8, 0.6, 0, 0], [0, 1, 0, 0])
    assert central(vectors, [1, 1, 1]) == 1
    assert central(vectors, [10, 1, 1]) == 0


def test_distinctive_words_leave_out_what_every_topic_says() -> None:
    groups = [
        [("How much does the pro plan cost?", 3), ("What is the price of the plan?", 1)],
        [("Is there an API for the plan?", 2), ("Where are the API endpoints?", 1)],
    ]
    prices, api = distinctive_words(groups, top=3)
    assert "plan" not in prices and "plan" not in api
    assert prices[0] == "cost" and api[0] == "api"
    assert set(prices) <= {"cost", "price", "pro"} and "endpoints" in api
    assert words("What's the licence's price, and how?") == ["what's", "licence's", "price"]
