"""Expansion bombs: real DOCX and EPUB files with one part swapped for a huge one, made in the test.

The huge part is streamed into the archive and deflated, so a bomb of hundreds of megabytes
unpacked is a few hundred kilobytes on disk and never sits in the test's memory whole.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator

_REPEAT = 100_000  # nodes written at a time

DOCX_HEAD = (
    b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    b"<w:body>"
)
DOCX_TAIL = b"</w:body></w:document>"
XHTML_HEAD = (
    b"<?xml version='1.0' encoding='utf-8'?>\n"
    b'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Bomb</title></head><body>'
)
XHTML_TAIL = b"</body></html>"


def word_document() -> bytes:
    """An ordinary DOCX as python-docx saves it (its default template, one paragraph)."""
    from docx import Document

    document = Document()
    document.add_paragraph("An ordinary paragraph.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def repeated(head: bytes, node: bytes, count: int, tail: bytes) -> Iterator[bytes]:
    """``head``, then ``node`` ``count`` times, then ``tail``, in pieces."""
    yield head
    for start in range(0, count, _REPEAT):
        yield node * min(_REPEAT, count - start)
    yield tail


def with_part(archive: bytes, name: str, content: Iterable[bytes]) -> bytes:
    """``archive`` with the part ``name`` replaced by (or added as) ``content``, deflated."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(archive)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target,
    ):
        for entry in source.infolist():
            if entry.filename != name:
                target.writestr(entry.filename, source.read(entry))
        with target.open(name, "w") as part:
            for piece in content:
                part.write(piece)
    return out.getvalue()


def docx_bomb(paragraphs: int, *, part: str = "word/document.xml") -> bytes:
    """A DOCX whose ``part`` is ``paragraphs`` empty paragraphs (``<w:p/>``, 6 bytes each)."""
    return with_part(word_document(), part, repeated(DOCX_HEAD, b"<w:p/>", paragraphs, DOCX_TAIL))
