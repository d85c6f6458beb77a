"""The fixed questions a full backup records with their answers, for the recovery test to ask.

Which questions (decided at backup time and written to the manifest):

1. ``DR_QUESTIONS``: a file with one question a line (blank lines and ``#`` comments skipped);
2. else the questions users asked most often (the user messages of the database snapshot,
   most frequent first, ties by text), so the test covers what the service is used for;
3. else, when nobody has asked anything yet, the titles of the first documents (by source);
4. else none (an empty deployment): the answer check has nothing to compare.

``DR_QUESTION_COUNT`` (default 5) caps 2 and 3. Each question is asked on its own, as the
first question of a new conversation.

How answers are compared (``differences``): ``grounded`` and the cited passages (source and
section, in order) always; the text too when the extractive generator wrote it, which is
deterministic. A language model may word the same answer differently from one run to the next,
so with LLM_PROVIDER set the text is recorded but not compared.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rag_chatbot.domain import Answer
from rag_chatbot.errors import InvalidInput

DEFAULT_COUNT = 5
MAX_QUESTION_CHARS = 2000


def questions_from_file(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"DR_QUESTIONS: cannot read {path} ({exc})") from exc
    return [q.strip() for q in lines if q.strip() and not q.lstrip().startswith("#")]


def most_asked(messages: Iterable[Mapping[str, Any]], count: int) -> list[str]:
    """The ``count`` user questions asked most often (most frequent first, ties by text)."""
    asked = Counter(
        str(m.get("content") or "").strip() for m in messages if m.get("role") == "user"
    )
    asked.pop("", None)
    ranked = sorted(
        (q for q in asked if len(q) <= MAX_QUESTION_CHARS), key=lambda q: (-asked[q], q)
    )
    return ranked[:count]


def document_titles(documents: Iterable[Mapping[str, Any]], count: int) -> list[str]:
    ordered = sorted(documents, key=lambda d: str(d.get("source", "")))
    titles = [str(d.get("title") or "").strip() for d in ordered]
    return [t for t in titles if t][:count]


def choose_questions(
    questions_file: Path | None,
    messages: Iterable[Mapping[str, Any]],
    documents: Iterable[Mapping[str, Any]],
    count: int = DEFAULT_COUNT,
) -> tuple[list[str], str]:
    """The questions and where they came from (see the module docstring)."""
    if questions_file is not None:
        return questions_from_file(questions_file), f"DR_QUESTIONS ({questions_file.name})"
    asked = most_asked(messages, count)
    if asked:
        return asked, "most asked by users"
    titles = document_titles(documents, count)
    if titles:
        return titles, "document titles (no questions asked yet)"
    return [], "none (no documents)"


def answer_record(question: str, answer: Answer) -> dict[str, Any]:
    """What the manifest keeps of an answer."""
    return {
        "question": question,
        "answer": answer.answer,
        "grounded": answer.grounded,
        "generator": answer.generator,
        "citations": [{"source": c.source, "section": c.section} for c in answer.citations],
    }


def reply_record(question: str, reply: Mapping[str, Any]) -> dict[str, Any]:
    """The same fields from an ``/api/chat`` response."""
    return {
        "question": question,
        "answer": reply.get("answer"),
        "grounded": reply.get("grounded"),
        "generator": reply.get("generator"),
        "citations": [
            {"source": c.get("source"), "section": c.get("section")}
            for c in reply.get("citations") or []
        ],
    }


def differences(
    expected: Mapping[str, Any], found: Mapping[str, Any], *, compare_text: bool
) -> list[str]:
    """How ``found`` differs from ``expected`` (``[]``: the same answer)."""
    problems = []
    if found.get("grounded") != expected.get("grounded"):
        problems.append(f"grounded {found.get('grounded')} (was {expected.get('grounded')})")
    cited = [(c["source"], c["section"]) for c in found.get("citations", [])]
    recorded = [(c["source"], c["section"]) for c in expected.get("citations", [])]
    if cited != recorded:
        problems.append(f"cites {json.dumps(cited)} (was {json.dumps(recorded)})")
    if compare_text and found.get("answer") != expected.get("answer"):
        problems.append("the answer's text differs")
    return problems
