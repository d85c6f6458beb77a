"""Grouping questions by meaning: incremental centroid clustering, and how a group is named.

A topic is the running sum of its members' unit vectors (its direction is the centroid). New
questions arrive in batches, in a fixed order (first asked, then hash); each joins the topic
whose centroid is nearest if the cosine reaches the threshold, else starts a topic of its own.
A question's topic never changes afterwards, so grouping costs one look at the topics per new
question — not a pass over every question ever asked — and gives the same topics for the same
questions in the same order.

Within a batch, the topics that existed before it are compared as they were when it began
(one matrix product), and the topics the batch starts are compared as they grow.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]

_WORD = re.compile(r"[^\W\d_][\w'-]*", re.UNICODE)
_STOP_WORDS_TEXT = """
a about above after again all also am an and any are as at be because been before being below
between both but by can could did do does doing done down during each either else ever every
few for from further get gets getting give go goes had has have having he her here hers him his
how however i if in into is it its itself just let like many may me might more most much must
my need no nor not now of off on once one only or other our out over own please same she should
so some still such than that the their them then there these they this those through to too
under until up us use used using very want was way we were what when where whether which while
who whom why will with within without would yes you your
"""
_STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


@dataclass
class Topics:
    """The topics so far: ``ids``, the sums of their members' vectors, their member counts."""

    ids: list[int]
    sums: Matrix  # (topics, dimension)
    members: list[int]

    @classmethod
    def empty(cls, dimension: int) -> Topics:
        return cls([], np.zeros((0, dimension), dtype=np.float32), [])


@dataclass(frozen=True)
class Assignment:
    """Each new vector's topic id, and the topics that changed or were started."""

    topics: list[int]
    changed: list[int]  # ids of topics that existed before and gained members
    started: list[int]  # ids of topics started by this batch


def _unit_rows(matrix: Matrix) -> Matrix:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def assign(vectors: Matrix, topics: Topics, threshold: float, next_id: int) -> Assignment:
    """Put each row of ``vectors`` (unit length, in order) into a topic; ``topics`` is updated.

    New topics get ids ``next_id``, ``next_id + 1``, ... A tie goes to the older topic.
    """
    before = len(topics.ids)
    frozen = vectors @ _unit_rows(topics.sums).T if before else None
    new_sums: list[npt.NDArray[np.float32]] = []
    new_members: list[int] = []
    chosen: list[int] = []
    changed: set[int] = set()
    for row, vector in enumerate(vectors):
        best, best_score = -1, -math.inf
        if frozen is not None:
            best = int(np.argmax(frozen[row]))
            best_score = float(frozen[row, best])
        if new_sums:
            grown = _unit_rows(np.stack(new_sums)) @ vector
            candidate = int(np.argmax(grown))
            if float(grown[candidate]) > best_score:
                best, best_score = before + candidate, float(grown[candidate])
        if best >= 0 and best_score >= threshold:
            if best < before:
                topics.sums[best] += vector
                topics.members[best] += 1
                changed.add(best)
            else:
                new_sums[best - before] = new_sums[best - before] + vector
                new_members[best - before] += 1
            chosen.append(best)
        else:
            new_sums.append(vector.astype(np.float32).copy())
            new_members.append(1)
            chosen.append(before + len(new_sums) - 1)
    started = [next_id + i for i in range(len(new_sums))]
    topics.ids.extend(started)
    if new_sums:
        topics.sums = np.vstack([topics.sums, np.stack(new_sums)]).astype(np.float32)
    topics.members.extend(new_members)
    return Assignment(
        topics=[topics.ids[i] for i in chosen],
        changed=[topics.ids[i] for i in sorted(changed)],
        started=started,
    )


def central(vectors: Matrix, weights: Sequence[float]) -> int:
    """The row nearest the weighted mean direction of ``vectors``: a group's most typical."""
    mean = (np.asarray(weights, dtype=np.float32)[:, None] * vectors).sum(axis=0)
    return int(np.argmax(vectors @ mean))


def words(text: str) -> list[str]:
    """The content words of a question, lower case (stop words left out)."""
    found = (w.strip("'-").lower() for w in _WORD.findall(text))
    return [w for w in found if len(w) > 1 and w not in _STOP_WORDS]


def distinctive_words(groups: Sequence[Sequence[tuple[str, int]]], top: int = 4) -> list[list[str]]:
    """For each group of ``(question, times asked)``, the words that set it apart from the others.

    A word scores by how often the group uses it times how few groups do (tf-idf); a word
    every group uses scores nothing. Ties go alphabetically.
    """
    counts = [Counter[str]() for _ in groups]
    for counter, group in zip(counts, groups, strict=True):
        for text, times in group:
            for word in set(words(text)):
                counter[word] += times
    spread = Counter(word for counter in counts for word in counter)
    n = len(groups)
    chosen = []
    for counter in counts:
        scored = [
            (-count * math.log((1 + n) / (1 + spread[word])), word)
            for word, count in counter.items()
        ]
        chosen.append([word for score, word in sorted(scored) if score < 0][:top])
    return chosen
