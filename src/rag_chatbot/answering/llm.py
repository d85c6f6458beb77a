"""Answers and standalone questions written by a language model.

``LlmGenerator`` sends the grounded prompt (``prompting``) to a ``ChatModel``, streams the
reply with its citation markers checked as they arrive (``citations``), and returns the
``Answer``. ``LlmRewriter`` turns a follow-up question into a standalone one for retrieval.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence

from rag_chatbot.answering.base import StreamItem, Turn
from rag_chatbot.answering.citations import CitationRewriter, cited_answer
from rag_chatbot.answering.conversation import RuleRewriter
from rag_chatbot.answering.prompting import (
    PromptBudget,
    build_answer_prompt,
    build_rewrite_prompt,
)
from rag_chatbot.answering.support import SupportCheck, UnsupportedAnswer
from rag_chatbot.domain import Answer, ScoredChunk
from rag_chatbot.errors import ProviderError
from rag_chatbot.providers.generators.base import ChatModel

REWRITE_MAX_TOKENS = 96
MAX_REWRITE_CHARS = 500
log = logging.getLogger(__name__)


class LlmGenerator:
    """A ``Generator`` backed by a language model.

    The model sees at most the passages that fit ``budget``; its ``[n]`` markers are
    checked and renumbered, and the answer is grounded only if it cites a source. With a
    ``checker``, the finished answer's sentences are checked against the passages they cite
    (``support``). Raises ``ProviderError`` when the model fails or replies with nothing,
    and ``UnsupportedAnswer`` (after the text was streamed) when the check fails.
    """

    def __init__(
        self,
        model: ChatModel,
        budget: PromptBudget | None = None,
        checker: SupportCheck | None = None,
    ) -> None:
        self._model = model
        self._budget = budget or PromptBudget()
        self._checker = checker
        self.name = f"{model.name}:{model.model}"

    @property
    def provider(self) -> str:
        return self._model.name

    def check(self) -> None:
        """Raise ``ProviderError`` unless the model's service answers."""
        self._model.check()

    def generate(
        self, question: str, passages: Sequence[ScoredChunk], *, history: Sequence[Turn] = ()
    ) -> Answer:
        for item in self.stream(question, passages, history=history):
            if isinstance(item, Answer):
                return item
        raise ProviderError(f"{self._model.name} stream ended without an answer")

    def stream(
        self, question: str, passages: Sequence[ScoredChunk], *, history: Sequence[Turn] = ()
    ) -> Iterator[StreamItem]:
        prompt = build_answer_prompt(question, passages, self._budget, history)
        rewriter = CitationRewriter(len(prompt.sources))
        parts: list[str] = []
        started = time.perf_counter()
        first: float | None = None
        for piece in self._model.stream(prompt.messages, max_tokens=self._budget.answer_tokens):
            text = rewriter.feed(piece)
            if not parts:
                text = text.lstrip()
            if text:
                first = first or time.perf_counter()
                parts.append(text)
                yield text
        tail = rewriter.finish()
        tail = (tail if parts else tail.lstrip()).rstrip()
        if tail:
            parts.append(tail)
            yield tail
        if not parts:
            raise ProviderError(f"{self._model.name} returned an empty answer")
        answer = cited_answer("".join(parts), rewriter.cited, prompt.sources, self.name)
        if self._checker is not None:
            texts = [prompt.sources[i].chunk.text for i in rewriter.cited]
            verdict = self._checker.check(answer, texts)
            if not verdict.supported:
                log.info("llm_answer_unsupported", extra={"reason": verdict.reason})
                raise UnsupportedAnswer(verdict.reason)
        log.info(
            "llm_answer",
            extra={
                "generator": self.name,
                "sources": len(prompt.sources),
                "prompt_tokens_estimated": prompt.estimated_tokens,
                "citations": len(answer.citations),
                "first_token": round(((first or time.perf_counter()) - started) * 1000, 1),
                "response_time": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        yield answer


class LlmRewriter:
    """A ``QueryRewriter`` that asks the model, when the question seems to refer back.

    The deterministic rule decides first (no history, or a question that stands alone: no
    model call); a failing model or an unusable reply falls back to the rule's query.
    """

    def __init__(self, model: ChatModel, *, history_tokens: int = 1024) -> None:
        self._model = model
        self._history_tokens = history_tokens
        self._rule = RuleRewriter()

    def rewrite(self, question: str, history: Sequence[Turn]) -> str:
        by_rule = self._rule.rewrite(question, history)
        if by_rule == question:
            return question
        messages = build_rewrite_prompt(question, history, self._history_tokens)
        try:
            reply = self._model.complete(messages, max_tokens=REWRITE_MAX_TOKENS)
        except ProviderError as exc:
            log.warning("query_rewrite_failed", extra={"reason": str(exc)})
            return by_rule
        rewritten = _first_line(reply)
        if not rewritten or len(rewritten) > MAX_REWRITE_CHARS:
            return by_rule
        return rewritten


def _first_line(reply: str) -> str:
    for line in reply.splitlines():
        line = line.strip().strip("\"'`*").strip()
        if line.lower().startswith("rewritten question:"):
            line = line.split(":", 1)[1].strip()
        if line:
            return line
    return ""
