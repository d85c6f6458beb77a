"""Sentence splitting for extractive answers: prose by sentence, code and tables by block."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9`<-])")
_SPACE = re.compile(r"[ \t]+")
_MAX_CHARS = 600


Kind = Literal["prose", "code", "table", "list", "heading"]
# One line of code rather than prose: a comment, a shell or REPL prompt, a statement ending in
# ``;`` or a brace, or a bare call or signature such as ``path.extname(path)``.
_CODE_LINE = re.compile(
    r"^(//|/\*|\*|#(?!\w)|--\s|\$\s|>>>|%\s)|[;{}]$|^[\w.$]+\([^()]*\)(\s*[;:]?)?$"
)


@dataclass(frozen=True)
class Unit:
    """A sentence, a code block, table or list kept whole, or a heading-like line."""

    text: str
    kind: Kind


def split_sentences(text: str) -> list[str]:
    """The texts of ``split_units``."""
    return [unit.text for unit in split_units(text)]


def split_units(text: str) -> list[Unit]:
    """Sentences of ``text`` in order; a code block or table stays one unit, lists by item.

    Units longer than ~600 characters are cut at a word boundary with an ellipsis, since an
    answer quotes them.
    """
    units: list[Unit] = []
    for block in re.split(r"\n\s*\n", text):
        block = block.strip()
        if not block:
            continue
        lines = block.split("\n")
        if len(lines) > 1 and _is_structured(lines):
            units.append(Unit(_clip(block), _structure(lines)))
            continue
        for line in lines:
            line = _SPACE.sub(" ", line.strip())
            if is_code_line(line):
                units.append(Unit(_clip(line), "code"))
                continue
            for sentence in _SENTENCE_END.split(line):
                if sentence.strip():
                    units.append(_unit(_clip(sentence.strip())))
    return units


def is_code_line(line: str) -> bool:
    """A comment, a prompt, a statement or a bare call or signature rather than prose."""
    return bool(_CODE_LINE.search(line.strip()))


def _unit(sentence: str) -> Unit:
    return Unit(sentence, "heading" if looks_like_heading(sentence) else "prose")


_HEADING_LIKE = re.compile(r"^[A-Z][\w ,'\u2019&-]*$")
_MAX_HEADING_WORDS = 8


def looks_like_heading(unit: str) -> bool:
    """A short line of plain words with no closing punctuation: a title or label, not a claim.

    Plain-text files carry their headings as such lines ("Brewing green tea"); quoted in an
    answer they run into the next sentence. Code, commands and list items contain other
    characters and are kept.
    """
    return len(unit.split()) <= _MAX_HEADING_WORDS and bool(_HEADING_LIKE.match(unit))


def _structure(lines: list[str]) -> Kind:
    """A table (cells split by " | "), a list (items, as options are listed), or code."""
    if sum(" | " in ln for ln in lines) >= len(lines) / 2:
        return "table"
    if sum(ln.lstrip().startswith("- ") for ln in lines) >= len(lines) / 2:
        return "list"
    return "code"


def _is_structured(lines: list[str]) -> bool:
    """Code, tables and lists: line breaks carry meaning."""
    marks = sum(1 for ln in lines if ln.startswith(("- ", "  ", "\t")) or " | " in ln)
    return marks >= len(lines) / 2 and not all(ln.startswith("- ") for ln in lines)


def _clip(unit: str) -> str:
    if len(unit) <= _MAX_CHARS:
        return unit
    cut = unit.rfind(" ", 0, _MAX_CHARS)
    return unit[: cut if cut > 0 else _MAX_CHARS] + " …"
