"""Paragraphs, list items and table rows of line-based markup (Org, AsciiDoc) as text blocks.

Both formats wrap a paragraph over several lines and end it at a blank line, and write a list
item or a table row a line each. The reader and the chunker want a paragraph on one line and
an item or a row on a line of its own: ``text_blocks`` gives that, whatever the wrapping.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from rag_chatbot.ingestion.loaders.sections import collapse_whitespace

# A line that starts a list item ("- ", "* ", "** ", ". ", "1. ", "a) ") or a table row ("|").
_ENTRY = re.compile(r"\s*(?:(?:[-+*•]+|\.+|\d+[.)]|[a-zA-Z][.)])\s+\S|\|)")


def text_blocks(lines: Iterable[str]) -> Iterator[str]:
    """Blocks of ``lines``, split at blank lines; in each, items and rows keep a line each.

    A line that does not start an item or a row continues the line before it.
    """
    entries: list[list[str]] = []  # each entry's lines, joined once it is complete
    for line in lines:
        text = collapse_whitespace(line)
        if not text:
            if entries:
                yield "\n".join(" ".join(entry) for entry in entries)
            entries = []
        elif not entries or _ENTRY.match(line):
            entries.append([text])
        else:
            entries[-1].append(text)
    if entries:
        yield "\n".join(" ".join(entry) for entry in entries)
