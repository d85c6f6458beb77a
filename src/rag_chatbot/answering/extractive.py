"""The extractive generator: answers by quoting the passages' best sentences, with [n] markers.

It needs no language model, so it runs offline on two cores, and it cannot invent anything:
every sentence of an answer is a sentence (or a code block) of a cited passage.

The answer follows the ranking: the best-ranked passages that hold a good sentence are quoted
first, each under its own citation, up to ``max_citations`` pages, so two pages that say the
same thing are both cited. Sentences are chosen by ``selection`` (meaning, rare words, rank);
within a passage they keep the passage's order. A "how do I" question also gets the code block
or signature that goes with the chosen sentence.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from rag_chatbot.answering.base import StreamItem, Turn, stream_finished
from rag_chatbot.answering.citations import citation_for
from rag_chatbot.answering.selection import Candidate, SentenceScorer, asks_how
from rag_chatbot.answering.sentences import Unit, is_code_line, split_units
from rag_chatbot.domain import Answer, Citation, ScoredChunk
from rag_chatbot.providers.embedders.base import Embedder
from rag_chatbot.retrieval.lexical import LexicalEncoder

NOT_FOUND = "I can't find that in the documents."
_FORWARD = frozenset({"prose", "code"})
_BACKWARD = frozenset({"prose"})


@dataclass(frozen=True)
class _Quote:
    """What one citation quotes: units of passage ``passage`` by position, in passage order."""

    passage: int
    units: tuple[tuple[int, Unit], ...]
    signature: str = ""  # the passage's heading, quoted first when it is a function signature
    # Passages of other pages that say the same, cited beside it, with their own sentence.
    also: tuple[tuple[int, str], ...] = ()

    @property
    def words(self) -> int:
        return sum(len(unit.text.split()) for _, unit in self.units)


class ExtractiveGenerator:
    """Quotes the sentences that best answer the question from the top passages.

    ``passages_used`` passages are read. A passage is quoted when its best sentence scores at
    least ``keep_ratio`` of the best sentence's score; at most ``max_citations`` passages of
    distinct pages. Each quote starts with its passage's best sentences (at most
    ``per_passage``) and goes on with the sentences that follow them, in the passage's order,
    while the answer stays within ``max_words`` (the first quote gets half when others
    follow). When no sentence means what the question asks (similarity under
    ``min_similarity``) nor holds half its words (rare words weighing more), the answer is
    ungrounded.
    """

    name = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        lexical: LexicalEncoder,
        *,
        passages_used: int = 5,
        max_citations: int = 3,
        max_words: int = 120,
        per_passage: int = 2,
        keep_ratio: float = 0.75,
        min_similarity: float = 0.25,
        max_embedded: int = 8,
    ) -> None:
        self._scorer = SentenceScorer(embedder, lexical, max_embedded=max_embedded)
        self._passages_used = passages_used
        self._max_citations = max_citations
        self._max_words = max_words
        self._per_passage = per_passage
        self._keep_ratio = keep_ratio
        self._min_similarity = min_similarity

    def generate(
        self, question: str, passages: Sequence[ScoredChunk], *, history: Sequence[Turn] = ()
    ) -> Answer:
        """Quote ``passages``; ``history`` is not used (retrieval already had it)."""
        passages = list(passages[: self._passages_used])
        candidates = self._scorer.score(question, passages)
        prose = [c for c in candidates if c.unit.kind == "prose"] or candidates
        if not any(c.semantic >= self._min_similarity or c.lexical >= 0.5 for c in prose):
            return Answer(NOT_FOUND, grounded=False, generator=self.name)
        quotes = self._choose(prose, passages)
        if asks_how(question):
            quotes = [_with_code(q, candidates, passages) for q in quotes]
        return self._compose(self._extend(quotes, passages), passages)

    def stream(
        self, question: str, passages: Sequence[ScoredChunk], *, history: Sequence[Turn] = ()
    ) -> Iterator[StreamItem]:
        return stream_finished(self.generate(question, passages))

    def _choose(self, prose: list[Candidate], passages: list[ScoredChunk]) -> list[_Quote]:
        """The passages to quote, in rank order, each with its best sentences."""
        best = max(c.score for c in prose)
        floor = best * self._keep_ratio
        by_passage: dict[int, list[Candidate]] = {}
        for cand in sorted(prose, key=lambda c: -c.score):
            by_passage.setdefault(cand.passage, []).append(cand)
        # One passage a page: the one holding the page's best sentence.
        best_of_page: dict[str, int] = {}
        for index, ranked in by_passage.items():
            page = passages[index].chunk.source
            if ranked[0].score < floor:
                continue
            if (
                page not in best_of_page
                or ranked[0].score > by_passage[best_of_page[page]][0].score
            ):
                best_of_page[page] = index
        quotes: list[_Quote] = []
        for index in sorted(best_of_page.values()):
            ranked = by_passage[index]
            same = next(
                (k for k, q in enumerate(quotes) if _repeats(ranked[0].unit, [], [q])), None
            )
            if same is not None:
                # Another page says the same (a shared paragraph, a restated rule): it is
                # cited beside the quote rather than quoted twice.
                agreeing = (index, ranked[0].unit.text)
                quotes[same] = replace(quotes[same], also=(*quotes[same].also, agreeing))
            else:
                chosen: list[Candidate] = []
                for cand in ranked:
                    if len(chosen) == self._per_passage:
                        break
                    if (not chosen or cand.score >= floor) and not _repeats(
                        cand.unit, chosen, quotes
                    ):
                        chosen.append(cand)
                units = tuple(sorted((c.position, c.unit) for c in chosen))
                quotes.append(_Quote(index, units))
            if sum(1 + len(q.also) for q in quotes) == self._max_citations:
                break
        return quotes

    def _extend(self, quotes: list[_Quote], passages: list[ScoredChunk]) -> list[_Quote]:
        """Each quote goes on with the sentences after its own, within its share of words."""
        extended = []
        left = self._max_words
        for k, quote in enumerate(quotes):
            share = left if k == len(quotes) - 1 else left // (2 if k == 0 else len(quotes) - k)
            units = dict(quote.units)
            words = quote.words
            all_units = split_units(passages[quote.passage].chunk.text)
            # Forward first (what follows the best sentence explains it, an example included),
            # then the prose that leads to it; tables and option lists only when chosen.
            start = min(units)
            for step, stop, kinds in ((1, len(all_units), _FORWARD), (-1, -1, _BACKWARD)):
                for position in range(start + step, stop, step):
                    unit = all_units[position]
                    size = len(unit.text.split())
                    if position in units or unit.kind not in kinds:
                        continue
                    if words + size > share:
                        break
                    units[position] = unit
                    words += size
            extended.append(replace(quote, units=tuple(sorted(units.items()))))
            left = max(left - words, 0)
        return extended

    def _compose(self, quotes: list[_Quote], passages: list[ScoredChunk]) -> Answer:
        parts: list[str] = []
        citations: list[Citation] = []
        for quote in quotes:
            text = " ".join(_as_prose(unit.text) for _, unit in quote.units).strip()
            if quote.signature:
                text = f"{quote.signature}\n{text}"
            markers = ""
            for index, said in ((quote.passage, _quoted(quote.units)), *quote.also):
                n = len(citations) + 1
                markers += f"[{n}]"
                citations.append(citation_for(n, passages[index], " ".join(said.split())))
            parts.append(f"{text} {markers}")
        return Answer(
            "\n\n".join(parts), grounded=True, citations=tuple(citations), generator=self.name
        )


def _with_code(quote: _Quote, candidates: list[Candidate], passages: list[ScoredChunk]) -> _Quote:
    """The quote plus its passage's best code unit, or its heading when that is a signature."""
    if any(unit.kind == "code" for _, unit in quote.units):
        return quote
    code = [c for c in candidates if c.passage == quote.passage and c.unit.kind == "code"]
    if code:
        best = max(code, key=lambda c: c.score)
        return replace(quote, units=tuple(sorted((*quote.units, (best.position, best.unit)))))
    path = passages[quote.passage].chunk.section_path
    if path and is_code_line(path[-1]):
        return replace(quote, signature=path[-1])
    return quote


def _quoted(units: Sequence[tuple[int, Unit]]) -> str:
    """The units as one quote: adjacent ones run on, a gap between them is marked " … "."""
    out = ""
    previous = None
    for position, unit in units:
        if previous is not None:
            out += " " if position == previous + 1 else " … "
        out += " ".join(unit.text.split())
        previous = position
    return out


def _repeats(unit: Unit, chosen: list[Candidate], quotes: list[_Quote]) -> bool:
    words = set(unit.text.lower().split())
    others = [c.unit for c in chosen] + [u for q in quotes for _, u in q.units]
    for other in others:
        theirs = set(other.text.lower().split())
        if len(words & theirs) >= 0.8 * min(len(words), len(theirs)):
            return True
    return False


def _as_prose(sentence: str) -> str:
    """Keep code and tables on their own lines inside the answer."""
    return f"\n{sentence}\n" if "\n" in sentence else sentence
