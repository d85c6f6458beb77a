"""The ``Loader`` protocol: bytes of one file in, a ``LoadedDocument`` out."""

from __future__ import annotations

from typing import Protocol

from rag_chatbot.domain import LoadedDocument


class Loader(Protocol):
    """Reads one file format.

    Contract: ``load(data, name)`` parses the file's bytes (``name`` is the file name, for the
    fallback title and messages) and returns its title and sections in reading order, each with
    a heading path and an anchor. A file that cannot be parsed raises ``IngestionError`` with a
    reason a person can act on; an empty file yields a document with no sections.
    """

    media_type: str

    def load(self, data: bytes, name: str) -> LoadedDocument: ...
