"""Fit and check the grounding model: which questions the documents answer, from what is measured.

    python benchmarks/grounding.py --set DIR QUERIES OOD [--set DIR QUERIES OOD ...] [--fit]

Each ``--set`` is an ingested corpus (a ``DATA_DIR``), questions it answers (a ``rag-chatbot
eval`` file) and questions it does not (an ``--ood`` file). For every question the script
measures the grounding ``Evidence`` as the answerer does (dense cosine, coverage of rare
words, margin) and prints, per set, the share of answerable questions kept and of the others
declined by the model in ``rag_chatbot.answering.grounding``, over a range of thresholds.

With ``--fit`` it first fits the model's weights by logistic regression on all sets together
(each set weighed equally, answerable and unanswerable halves weighed equally, so neither a
large set nor a lopsided one decides) and prints them; the sweep then uses the fitted weights.
The weights in ``GroundingModel`` were set from this output, rounded.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from rag_chatbot.answering.grounding import Evidence, EvidenceReader, GroundingModel
from rag_chatbot.config import Settings
from rag_chatbot.container import build_container
from rag_chatbot.evaluation.runner import read_out_of_domain, read_queries

THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


@dataclass(frozen=True)
class Row:
    corpus: str
    id: str
    answerable: bool
    near_topic: bool
    evidence: Evidence


def measure(data_dir: Path, queries: Path, ood: Path) -> list[Row]:
    container = build_container(Settings(data_dir=data_dir))
    reader = EvidenceReader(container.lexical)
    questions = [(q.id, q.question, True, False) for q in read_queries(queries)]
    questions += [(o.id, o.question, False, o.near_topic) for o in read_out_of_domain(ood)]
    rows = []
    try:
        for qid, question, answerable, near in questions:
            result = container.retriever.retrieve(question, container.settings.retrieval_top_k)
            evidence = reader.read(question, result.hits, result.dense_scores)
            rows.append(Row(data_dir.name, qid, answerable, near, evidence))
    finally:
        container.close()
    return rows


def features(rows: list[Row]) -> npt.NDArray[np.float64]:
    return np.array([[r.evidence.dense, r.evidence.coverage, r.evidence.margin] for r in rows])


def fit(rows: list[Row], l2: float = 1e-3, steps: int = 50) -> GroundingModel:
    """Weighted logistic regression by Newton's method (three features and a bias)."""
    x = features(rows)
    y = np.array([float(r.answerable) for r in rows])
    weight = np.ones(len(rows))
    for corpus in {r.corpus for r in rows}:
        for label in (True, False):
            members = [
                i for i, r in enumerate(rows) if r.corpus == corpus and r.answerable is label
            ]
            weight[members] = 1.0 / max(len(members), 1)
    weight /= weight.sum()
    design = np.hstack([np.ones((len(rows), 1)), x])
    theta = np.zeros(design.shape[1])
    ridge = l2 * np.diag([0.0, *([1.0] * x.shape[1])])  # the bias is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(design @ theta)))
        gradient = design.T @ ((p - y) * weight) + ridge @ theta
        hessian = (design * (weight * p * (1 - p))[:, None]).T @ design + ridge
        theta -= np.linalg.solve(hessian, gradient)
    b, w_dense, w_coverage, w_margin = (float(v) for v in theta)
    return GroundingModel(bias=b, w_dense=w_dense, w_coverage=w_coverage, w_margin=w_margin)


def sweep(rows: list[Row], model: GroundingModel) -> None:
    corpora = sorted({r.corpus for r in rows})
    print("threshold  " + "  ".join(f"{c[:18]:>18} kept/declined/near" for c in corpora))
    for threshold in THRESHOLDS:
        cells = []
        for corpus in corpora:
            mine = [r for r in rows if r.corpus == corpus]
            scored = [(r, model.confidence(r.evidence) >= threshold) for r in mine]
            kept = np.mean([ok for r, ok in scored if r.answerable])
            declined = np.mean([not ok for r, ok in scored if not r.answerable])
            near = np.mean([not ok for r, ok in scored if not r.answerable and r.near_topic])
            cells.append(f"{kept:>18.2f} {declined:>8.2f} {near:>5.2f}")
        print(f"{threshold:>9.2f}  " + "  ".join(cells))


def show_misses(rows: list[Row], model: GroundingModel) -> None:
    for r in rows:
        confidence = model.confidence(r.evidence)
        if (confidence >= model.threshold) != r.answerable:
            e = r.evidence
            label = "declined" if r.answerable else "answered"
            print(
                f"  {label:8} {r.corpus}:{r.id:12} conf {confidence:.2f} dense {e.dense:.3f} "
                f"cov {e.coverage:.2f} margin {e.margin:.3f} rare {list(e.rare_words)}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", nargs=3, action="append", metavar=("DIR", "QUERIES", "OOD"))
    parser.add_argument("--fit", action="store_true", help="fit the weights first")
    args = parser.parse_args()
    rows = [row for d, q, o in args.set for row in measure(Path(d), Path(q), Path(o))]
    model = GroundingModel()
    if args.fit:
        fitted = fit(rows)
        model = replace(fitted, threshold=model.threshold)
        print(
            f"fitted: bias {fitted.bias:.2f}, dense {fitted.w_dense:.2f}, "
            f"coverage {fitted.w_coverage:.2f}, margin {fitted.w_margin:.2f}"
        )
    sweep(rows, model)
    print(f"wrong at threshold {model.threshold}:")
    show_misses(rows, model)


if __name__ == "__main__":
    main()
