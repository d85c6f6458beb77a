"""Checks on zip-based formats (DOCX, EPUB) before a library unpacks them."""

from __future__ import annotations

import io
import zipfile

from rag_chatbot.errors import IngestionError

MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024


def check_zip(data: bytes, format_name: str, limit: int = MAX_UNCOMPRESSED_BYTES) -> None:
    """Refuse ``data`` unless it is a zip archive that unpacks to at most ``limit`` bytes.

    Raises ``IngestionError`` naming ``format_name``. The sizes come from the archive's own
    directory; zipfile stops reading an entry at its declared size, so a lying entry cannot
    inflate past it.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(entry.file_size for entry in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise IngestionError(f"not a valid {format_name} file (not a zip archive): {exc}") from exc
    if total > limit:
        raise IngestionError(
            f"{format_name} file would unpack to {total} bytes, over the {limit}-byte limit"
        )
