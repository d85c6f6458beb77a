"""Checks on zip-based formats (DOCX, EPUB) before a library unpacks them.

Sizes come from the archive's own directory; zipfile stops reading an entry at its declared
size, so a lying entry cannot inflate past it. Every part is then streamed through a
``MarkupCounter`` (see ``limits``): python-docx and ebooklib choose which parts to parse by
content type, not by name, so no part is assumed not to be XML.
"""

from __future__ import annotations

import io
import zipfile
import zlib

from rag_chatbot.errors import IngestionError
from rag_chatbot.ingestion.loaders.limits import MAX_XML_NODES, MarkupCounter, too_many_nodes

# The whole archive, unpacked.
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
# One part, unpacked: twice the XML of the largest real manual (see ``limits``); what a part
# holds is kept in memory whole by python-docx and ebooklib.
MAX_PART_BYTES = 100 * 1024 * 1024
# Parts in one archive: a DOCX has tens, an illustrated EPUB a few thousand; zipfile keeps an
# object of several hundred bytes for each, so a directory of millions would itself be a bomb.
MAX_ENTRIES = 10_000

_CENTRAL_HEADER = b"PK\x01\x02"
_READ_SIZE = 64 * 1024
_BROKEN = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError, OSError)


def check_zip(
    data: bytes,
    format_name: str,
    name: str = "",
    *,
    limit: int = MAX_UNCOMPRESSED_BYTES,
    part_limit: int = MAX_PART_BYTES,
    node_limit: int = MAX_XML_NODES,
    entry_limit: int = MAX_ENTRIES,
) -> None:
    """Refuse ``data`` unless it is a zip archive within every limit.

    The limits: at most ``entry_limit`` parts, ``limit`` bytes unpacked in all, ``part_limit``
    bytes and ``node_limit`` XML nodes in any one part. Raises ``IngestionError`` naming the
    file (``name``, else ``format_name``), the part and the limit it is over.
    """
    label = name or f"{format_name} file"
    # Every entry of the central directory starts with this signature, so the count bounds the
    # entries before zipfile builds an object for each one.
    if data.count(_CENTRAL_HEADER) > entry_limit:
        raise IngestionError(f"{label} has more than {entry_limit:,} parts, over the limit")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _BROKEN as exc:
        prefix = f"{name}: " if name else ""
        raise IngestionError(
            f"{prefix}not a valid {format_name} file (not a zip archive): {exc}"
        ) from exc
    with archive:
        entries = [entry for entry in archive.infolist() if not entry.is_dir()]
        _check_sizes(entries, label, format_name, limit, part_limit)
        for entry in entries:
            try:
                _check_nodes(archive, entry, label, node_limit)
            except (*_BROKEN, NotImplementedError, RuntimeError) as exc:
                # NotImplementedError: an unknown compression; RuntimeError: an encrypted part.
                raise IngestionError(
                    f"{label}: part {entry.filename} cannot be unpacked: {exc}"
                ) from exc


def _check_sizes(
    entries: list[zipfile.ZipInfo], label: str, format_name: str, limit: int, part_limit: int
) -> None:
    total = sum(entry.file_size for entry in entries)
    if total > limit:
        raise IngestionError(
            f"{label}: the {format_name} file would unpack to {total} bytes, "
            f"over the {limit}-byte limit"
        )
    for entry in entries:
        if entry.file_size > part_limit:
            raise IngestionError(
                f"{label}: part {entry.filename} would unpack to {entry.file_size} bytes, "
                f"over the {part_limit}-byte limit for one part"
            )


def _check_nodes(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, label: str, limit: int) -> None:
    counter = MarkupCounter(html=False, limit=limit)
    with archive.open(entry) as stream:
        while chunk := stream.read(_READ_SIZE):
            if counter.feed(chunk) > limit:
                raise IngestionError(too_many_nodes(f"{label}: part {entry.filename}", limit))
    if counter.close() > limit:
        raise IngestionError(too_many_nodes(f"{label}: part {entry.filename}", limit))
