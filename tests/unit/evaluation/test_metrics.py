"""Metric functions against hand-computed values."""

from __future__ import annotations

import math

import pytest

from rag_chatbot.errors import InvalidInput
from rag_chatbot.evaluation.metrics import ndcg_at, recall_at, reciprocal_rank, token_f1
from rag_chatbot.evaluation.runner import (
    read_out_of_domain,
    read_queries,
    summarize,
    summarize_out_of_domain,
)

RANKED = ["a", "x", "b", "y", "z", "c"]
RELEVANT = {"a", "b", "c", "d"}


def test_recall() -> None:
    assert recall_at(RANKED, RELEVANT, 5) == pytest.approx(2 / 4)
    assert recall_at(RANKED, RELEVANT, 10) == pytest.approx(3 / 4)
    assert recall_at(RANKED, set(), 5) == 0.0


def test_reciprocal_rank() -> None:
    assert reciprocal_rank(RANKED, {"b"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(RANKED, {"q"}) == 0.0
    assert reciprocal_rank(["x"] * 10 + ["a"], {"a"}, 10) == 0.0


def test_ndcg_hand_computed() -> None:
    dcg = 1 / math.log2(2) + 1 / math.log2(4) + 1 / math.log2(7)
    ideal = sum(1 / math.log2(i + 1) for i in range(1, 5))
    assert ndcg_at(RANKED, RELEVANT, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at(["a", "b"], {"a", "b"}, 10) == pytest.approx(1.0)
    assert ndcg_at(["x", "a"], {"a"}, 10) == pytest.approx(1 / math.log2(3))


def test_token_f1() -> None:
    # "the" is dropped; 2 shared of 3 predicted and 4 reference tokens.
    assert token_f1("The cat sat quietly", "a cat sat on mats") == pytest.approx(
        2 * (2 / 3) * (2 / 4) / (2 / 3 + 2 / 4)
    )
    assert token_f1("", "") == 1.0
    assert token_f1("x", "y") == 0.0


def test_summary_rates() -> None:
    rows = [
        {
            "recall@5": 1.0,
            "recall@10": 1.0,
            "mrr@10": 1.0,
            "ndcg@10": 1.0,
            "grounded": True,
            "citation_hit": True,
            "token_f1": 0.5,
        },
        {
            "recall@5": 0.0,
            "recall@10": 0.5,
            "mrr@10": 0.0,
            "ndcg@10": 0.2,
            "grounded": False,
            "citation_hit": None,
            "token_f1": 0.0,
        },
    ]
    summary = summarize(rows)  # type: ignore[arg-type]
    assert summary["abstention_rate"] == 0.5
    assert summary["citation_hit_rate"] == 1.0
    assert summary["recall@10"] == 0.75
    assert summary["ndcg@10"] == pytest.approx(0.6)
    # Of the questions with a relevant page in the top five, how many answers cite one.
    assert summary["citation_reach@5"] == 1.0
    assert summary["false_abstentions"] == 1.0


def test_read_queries_rejects_bad_lines(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "1", "question": "q?", "relevant": ["a"], "answer": "x"}\n{oops\n')
    with pytest.raises(InvalidInput, match=r"q\.jsonl:2"):
        read_queries(path)


def test_citation_reach_counts_answers_that_miss_a_recalled_page() -> None:
    row = {"recall@10": 1.0, "mrr@10": 1.0, "ndcg@10": 1.0, "token_f1": None}
    rows = [
        {**row, "recall@5": 1.0, "grounded": True, "citation_hit": True},
        {**row, "recall@5": 0.5, "grounded": True, "citation_hit": False},
        {**row, "recall@5": 0.5, "grounded": False, "citation_hit": None},
        {**row, "recall@5": 0.0, "grounded": True, "citation_hit": False},
    ]
    summary = summarize(rows)  # type: ignore[arg-type]
    assert summary["citation_reach@5"] == pytest.approx(1 / 3)
    assert summary["citation_hit_rate"] == pytest.approx(1 / 3)


def test_out_of_domain_declined_rates() -> None:
    rows = [
        {"near_topic": True, "grounded": False},
        {"near_topic": True, "grounded": True},
        {"near_topic": False, "grounded": False},
        {"near_topic": False, "grounded": False},
    ]
    summary = summarize_out_of_domain(rows)  # type: ignore[arg-type]
    assert summary == {
        "ood_questions": 4.0,
        "ood_declined_rate": 0.75,
        "ood_near_topic_declined_rate": 0.5,
    }


def test_read_out_of_domain_names_the_bad_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "ood.jsonl"
    path.write_text('{"question": "q?"}\n\n["not", "an", "object"]\n')
    with pytest.raises(InvalidInput, match=r"ood\.jsonl:3"):
        read_out_of_domain(path)


def test_the_shipped_out_of_domain_set_is_half_near_topic() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "data" / "ood-docs-faq.jsonl"
    questions = read_out_of_domain(path)
    near = [q for q in questions if q.near_topic]
    assert len(questions) >= 30 and len(near) * 2 == len(questions)
    assert len({q.id for q in questions}) == len(questions)


def test_token_f1_reads_the_answer_without_its_citation_markers() -> None:
    reference = "Use INTEGER PRIMARY KEY AUTOINCREMENT."
    marked = "Use INTEGER PRIMARY KEY AUTOINCREMENT [1]. It prevents reuse [2]."
    plain = "Use INTEGER PRIMARY KEY AUTOINCREMENT. It prevents reuse."
    assert token_f1(marked, reference) == token_f1(plain, reference)
    assert token_f1("Version 3 [1]", "version 3") == 1.0  # a number in the text still counts
