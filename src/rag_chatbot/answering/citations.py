"""Citation checks on a model's answer: every ``[n]`` kept points at a source that was quoted.

A model cites sources by their number in the prompt. After (and while) it writes,
``CitationRewriter``:

- drops markers that point at no source (``[7]`` when five were quoted), with the space
  before them;
- renumbers the rest in order of first use, so the citations of an answer are ``1..k``
  and ``[n]`` in the text is ``citations[n-1]``; ``[2, 4]`` becomes ``[1][2]``;
- works on a stream: text is released as soon as it cannot be part of a marker, so the
  streamed pieces join to exactly the final answer.

``cited_answer`` then builds the ``Answer``: ``grounded`` is true only when at least one
valid source was cited — an answer that cites nothing is not supported by the documents,
whatever it says.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag_chatbot.domain import Answer, Citation, ScoredChunk

QUOTE_CHARS = 300
_MARKER = re.compile(r"(\s*)\[\s*(\d{1,4}(?:\s*[,;]\s*\d{1,4})*)\s*\]")
# What may still become a marker (or the space before one) when more text arrives.
_PENDING = re.compile(r"\s*(?:\[[\d\s,;]{0,24})?$")
_JOINERS = set("[0123456789,;")


class CitationRewriter:
    """Rewrites the markers of a text arriving in pieces, for ``source_count`` sources.

    ``feed(piece)`` returns the text that can be released now (possibly empty);
    ``finish()`` returns the rest. ``cited`` lists the 0-based indices of the cited
    sources in citation order: citation ``n`` is source ``cited[n-1]``.
    """

    def __init__(self, source_count: int) -> None:
        self._source_count = source_count
        self._numbers: dict[int, int] = {}
        self._pending = ""
        self._last = ""  # the last character released, for what follows a dropped marker

    @property
    def cited(self) -> list[int]:
        return [source - 1 for source in self._numbers]

    def feed(self, piece: str) -> str:
        self._pending += piece
        hold = _PENDING.search(self._pending)
        cut = hold.start() if hold else len(self._pending)
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return self._rewrite(ready)

    def finish(self) -> str:
        ready, self._pending = self._pending, ""
        return self._rewrite(ready)

    def _rewrite(self, text: str) -> str:
        out: list[str] = []
        end = 0
        for match in _MARKER.finditer(text):
            self._release(out, text[end : match.start()])
            self._release(out, self._replace(match))
            end = match.end()
        self._release(out, text[end:])
        return "".join(out)

    def _release(self, out: list[str], part: str) -> None:
        out.append(part)
        self._last = part[-1:] or self._last

    def _replace(self, match: re.Match[str]) -> str:
        space, numbers = match.group(1), match.group(2)
        out = []
        for number in (int(n) for n in re.split(r"\s*[,;]\s*", numbers)):
            if not 1 <= number <= self._source_count:
                continue
            cited = self._numbers.setdefault(number, len(self._numbers) + 1)
            marker = f"[{cited}]"
            if marker not in out:
                out.append(marker)
        if out:
            return space + "".join(out)
        # Dropped. Inside brackets ("[[9]2]") keep a space, or "[2]" would appear from nowhere.
        return " " if self._last in _JOINERS else ""


def rewrite_citations(text: str, source_count: int) -> tuple[str, list[int]]:
    """``text`` with its markers checked and renumbered, and the cited source indices."""
    rewriter = CitationRewriter(source_count)
    return rewriter.feed(text) + rewriter.finish(), rewriter.cited


def cited_answer(
    text: str, cited: Sequence[int], sources: Sequence[ScoredChunk], generator: str
) -> Answer:
    """The ``Answer`` for a rewritten ``text`` that cites ``sources[i]`` for ``i`` in ``cited``."""
    citations = tuple(
        citation_for(n, sources[i], _quote(sources[i].chunk.text))
        for n, i in enumerate(cited, start=1)
    )
    return Answer(text.strip(), grounded=bool(citations), citations=citations, generator=generator)


def citation_for(n: int, passage: ScoredChunk, quote: str) -> Citation:
    """Citation ``n``: where ``passage`` is, with ``quote`` from it."""
    chunk = passage.chunk
    return Citation(
        n=n,
        source=chunk.source,
        title=chunk.title,
        section=chunk.section,
        url=chunk.url,
        quote=quote,
        score=round(passage.score, 4),
    )


def _quote(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= QUOTE_CHARS:
        return text
    cut = text[: QUOTE_CHARS - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > QUOTE_CHARS // 2 else cut).rstrip() + "…"
