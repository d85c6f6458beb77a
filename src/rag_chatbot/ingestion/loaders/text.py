"""Plain text files: one section, paragraphs split at blank lines."""

from __future__ import annotations

import codecs
import functools
import re

import charset_normalizer

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
# How much of a file that is not UTF-8 charset-normalizer reads to pick its codec.
SAMPLE_BYTES = 64 * 1024
_WINDOWS_1252 = "cp1252"


def decode_text(data: bytes) -> str:
    """Bytes of a text file as a string, newlines normalised to ``\\n``.

    A byte-order mark picks the codec; otherwise UTF-8 if the bytes are UTF-8, else the legacy
    codec ``guess_codec`` finds (latin-1 or cp1252 text keeps its "é" and "€"). Only when none
    fits do the bytes that are not UTF-8 become U+FFFD rather than failing the whole file.
    """
    codec = next((name for bom, name in _BOMS if data.startswith(bom)), None)
    if codec is not None:
        text = data.decode(codec, errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            sample = text_sample(data)
            guessed = None if is_utf8_prefix(sample) else guess_codec(sample)
            text = data.decode(guessed or "utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def text_sample(data: bytes) -> bytes:
    """The first ``SAMPLE_BYTES`` of ``data``, cut after a line end when the file goes on.

    A cut inside a multi-byte character would make a codec such as Shift-JIS look invalid; no
    codec charset-normalizer tries uses the newline byte inside a character.
    """
    if len(data) <= SAMPLE_BYTES:
        return data
    sample = data[:SAMPLE_BYTES]
    end = sample.rfind(b"\n")
    return sample[: end + 1] if end > 0 else sample


def is_utf8_prefix(sample: bytes) -> bool:
    """Whether ``sample`` is UTF-8, allowing a character cut off at its end."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


@functools.lru_cache(maxsize=8)  # sniffing and then loading a file guess on the same sample
def guess_codec(sample: bytes) -> str | None:
    """The codec charset-normalizer finds for ``sample``, or None when no codec reads it.

    Western text often uses only letters that several single-byte codecs share, and then
    they score alike and the tie goes to the first name (cp1250, so "prêt" read "pręt"). Among
    equally good readings windows-1252 wins: it is the commonest legacy codec and a superset
    of latin-1's printable characters (browsers read latin-1 labelled pages as it too).
    """
    matches = charset_normalizer.from_bytes(sample)
    best = matches.best()
    if best is None:
        return None
    for match in matches:
        tied = match.chaos <= best.chaos and match.coherence >= best.coherence
        if tied and _WINDOWS_1252 in match.could_be_from_charset:
            return _WINDOWS_1252
    return best.encoding


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
