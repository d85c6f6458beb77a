"""Structure-aware chunking: sections follow headings; chunks fit the embedding window.

Each chunk is embedded as ``heading + "\\n" + text`` (``Chunk.embedding_text``), so the budget
for the text is the model window minus the special tokens and the heading. Text is split at
the largest boundary that fits — paragraph, then line (code), sentence, word, characters —
and pieces are packed greedily, so chunks cover the section text in order with nothing lost.
Word-piece counts are additive across whitespace (BERT splits words before pieces), which lets
us count each piece once and add.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice

from rag_chatbot.domain import Chunk, LoadedDocument

# Bump when chunk boundaries change, so unchanged files are re-indexed with the new rules.
CHUNKER_VERSION = "1"
# [CLS] and [SEP]: present in every count_tokens() result, once per model input.
SPECIAL_TOKENS = 2
# Headings longer than this are shortened so the passage keeps most of the window.
MAX_HEADING_CHARS = 160
_ID_NAMESPACE = uuid.UUID("5b0c3b8e-3f0b-4d5e-9a39-4c1c1c6a7f10")

TokenCounter = Callable[[str], int]

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=\S)")
_WHITESPACE = re.compile(r"\s+")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class _Piece:
    text: str
    tokens: int
    joiner: str  # what separates this piece from the previous one in the same chunk


def document_id_for(source: str) -> str:
    """Stable id of the document at ``source`` (re-ingesting keeps the id)."""
    return str(uuid.uuid5(_ID_NAMESPACE, "doc:" + source))


def chunk_id_for(document_id: str, content_hash: str, position: int) -> str:
    """Chunk ids change with the content, so a new version never overwrites the visible one."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"chunk:{document_id}:{content_hash}:{position}"))


def chunk_document(
    doc: LoadedDocument,
    *,
    source: str,
    content_hash: str,
    count_tokens: TokenCounter,
    max_tokens: int,
    page_url: str = "",
) -> list[Chunk]:
    """Split ``doc`` into chunks whose embedding text fits ``max_tokens`` word pieces;
    ``page_url`` is the published page the citations of its chunks link to, if any."""
    document_id = document_id_for(source)
    title = _shorten(doc.title)
    chunks: list[Chunk] = []
    for section in doc.sections:
        path = tuple(_shorten(h) for h in section.heading_path)
        probe = Chunk("", document_id, source, title, path, section.anchor, 0, "")
        heading_tokens = count_tokens(probe.heading) - SPECIAL_TOKENS if probe.heading else 0
        budget = max(max_tokens - SPECIAL_TOKENS - heading_tokens, max_tokens // 4)
        for text in split_text(section.text, budget, count_tokens):
            position = len(chunks)
            chunks.append(
                Chunk(
                    id=chunk_id_for(document_id, content_hash, position),
                    document_id=document_id,
                    source=source,
                    title=title,
                    section_path=path,
                    anchor=section.anchor,
                    position=position,
                    text=text,
                    page_url=page_url,
                )
            )
    return chunks


def split_text(text: str, budget: int, count_tokens: TokenCounter) -> list[str]:
    """Split ``text`` into pieces of at most ``budget`` word pieces each (specials excluded).

    The pieces, joined with whitespace, hold exactly the non-space characters of ``text`` in
    order; empty or whitespace-only text gives no pieces.
    """
    chunks: list[str] = []
    current: list[_Piece] = []
    used = 0
    for piece in _pieces(text, budget, count_tokens):
        if current and used + piece.tokens > budget:
            chunks.append(_join(current))
            current, used = [], 0
        current.append(piece)
        used += piece.tokens
    if current:
        chunks.append(_join(current))
    return chunks


def _join(pieces: list[_Piece]) -> str:
    out = pieces[0].text
    for piece in pieces[1:]:
        out += piece.joiner + piece.text
    return out


def _pieces(text: str, budget: int, count: TokenCounter) -> Iterator[_Piece]:
    """Yield the text as pieces that each fit ``budget``, splitting only where needed."""
    splitters: list[tuple[Callable[[str], list[str]], str]] = [
        (lambda t: re.split(r"\n\s*\n", t), "\n\n"),
        (lambda t: t.split("\n"), "\n"),
        (_SENTENCE_END.split, " "),
        (str.split, " "),
    ]
    yield from _split_recursive(text.strip(), budget, count, splitters, "\n\n")


def _split_recursive(
    text: str,
    budget: int,
    count: TokenCounter,
    splitters: list[tuple[Callable[[str], list[str]], str]],
    joiner: str,
) -> Iterator[_Piece]:
    if not text.strip():
        return
    # Every word is at least one word piece: a text of more words than the budget cannot fit,
    # and counting it would tokenize all of it at once (gigabytes for a 100 MB text file).
    fits = not _more_words_than(text, budget)
    tokens = count(text) - SPECIAL_TOKENS if fits else budget + 1
    if tokens <= budget:
        yield _Piece(text, tokens, joiner)
        return
    if not splitters:
        yield from _split_characters(text, budget, count, joiner)
        return
    split, inner_joiner = splitters[0]
    parts = [p for p in split(text) if p.strip()]
    if len(parts) <= 1:
        yield from _split_recursive(text, budget, count, splitters[1:], joiner)
        return
    for i, part in enumerate(parts):
        yield from _split_recursive(
            part.strip() if inner_joiner != "\n" else part.rstrip(),
            budget,
            count,
            splitters[1:],
            joiner if i == 0 else inner_joiner,
        )


def _more_words_than(text: str, limit: int) -> bool:
    """Whether ``text`` has more than ``limit`` words, reading no further than that."""
    return next(islice(_WORD.finditer(text), limit, None), None) is not None


def _split_characters(text: str, budget: int, count: TokenCounter, joiner: str) -> Iterator[_Piece]:
    """Last resort for one enormous 'word' (a hash, a minified line): cut by characters."""
    start = 0
    while start < len(text):
        size = max(1, min(len(text) - start, budget * 2))
        while size > 1 and count(text[start : start + size]) - SPECIAL_TOKENS > budget:
            size //= 2
        piece = text[start : start + size]
        yield _Piece(piece, count(piece) - SPECIAL_TOKENS, joiner if start == 0 else " ")
        start += size


def _shorten(heading: str) -> str:
    heading = _WHITESPACE.sub(" ", heading).strip()
    return heading if len(heading) <= MAX_HEADING_CHARS else heading[: MAX_HEADING_CHARS - 1] + "…"
