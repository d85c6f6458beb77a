"""Plain text files: one section, paragraphs split at blank lines."""

from __future__ import annotations

import codecs
import re

from rag_chatbot.domain import LoadedDocument, Section
from rag_chatbot.ingestion.loaders.sections import (
    collapse_whitespace,
    empty_document,
    title_from_name,
)

_BLANK_LINE = re.compile(r"\n[ \t\f\v]*\n")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(data: bytes) -> str:
    """Bytes of a text file as a string, newlines normalised to ``\\n``.

    A byte-order mark picks the codec; otherwise UTF-8, and bytes that are not UTF-8 become
    U+FFFD rather than failing the whole file.
    """
    codec = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    text = data.decode(codec, errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_paragraphs(text: str) -> list[str]:
    """The paragraphs of ``text`` (split at blank lines), whitespace collapsed, blanks dropped."""
    paragraphs = (collapse_whitespace(chunk) for chunk in _BLANK_LINE.split(text))
    return [p for p in paragraphs if p]


class TextLoader:
    """Loads ``.txt``/``.text`` files: the title is the file name, the text one section."""

    media_type = "text/plain"

    def load(self, data: bytes, name: str) -> LoadedDocument:
        paragraphs = split_paragraphs(decode_text(data))
        if not paragraphs:
            return empty_document(name, self.media_type)
        section = Section(heading_path=(), anchor="", text="\n\n".join(paragraphs))
        return LoadedDocument(title_from_name(name), (section,), self.media_type)
