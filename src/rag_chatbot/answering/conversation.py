"""Follow-up questions made standalone for retrieval: the ``QueryRewriter`` protocol and its rule.

"What about its size limit?" after "Is SQLite threadsafe?" must search for SQLite's size
limit. Without a language model we carry the previous question's words into the search when
the new one refers back (a pronoun or "what about …") or is too short to stand alone; with
one, ``llm.LlmRewriter`` asks the model to rewrite the questions this rule flags. The answer
is still generated for the question as asked (with the conversation, for a model).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from rag_chatbot.answering.base import Turn

_REFERRING = re.compile(
    r"\b(it|its|it's|this|that|these|those|they|them|their|there|he|she|his|her|one|ones|"
    r"same|above|previous|former|latter)\b|^\s*(and|what about|how about|also|or|but|why|how so)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z0-9_.+-]{3,}")
MIN_STANDALONE_WORDS = 4


def standalone_query(question: str, previous_questions: Sequence[str]) -> str:
    """The text to search for ``question`` given the earlier questions of the conversation.

    Returns ``question`` itself when it stands alone, else the last earlier question followed
    by it.
    """
    if not previous_questions:
        return question
    refers_back = bool(_REFERRING.search(question))
    too_short = len(_WORD.findall(question)) < MIN_STANDALONE_WORDS
    if not (refers_back or too_short):
        return question
    return f"{previous_questions[-1]} {question}"


class QueryRewriter(Protocol):
    """Makes a follow-up question standalone for retrieval.

    Contract: ``rewrite(question, history)`` returns the text to search for ``question``
    asked after ``history`` (earlier turns, oldest first); ``question`` itself when it stands
    alone. Never raises for a model failure: it falls back to the deterministic rule.
    """

    def rewrite(self, question: str, history: Sequence[Turn]) -> str: ...


class RuleRewriter:
    """The deterministic rule (``standalone_query``) over the earlier user questions."""

    def rewrite(self, question: str, history: Sequence[Turn]) -> str:
        return standalone_query(question, [t.content for t in history if t.role == "user"])
