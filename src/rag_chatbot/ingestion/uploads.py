"""Checks on uploaded files: a safe name, a size limit, and content that matches the extension."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from rag_chatbot.errors import InvalidInput, UnsupportedFormat
from rag_chatbot.ingestion.loaders import SUPPORTED_EXTENSIONS
from rag_chatbot.ingestion.loaders.sniff import ZIP_EXTENSIONS, check_content

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_upload_name(filename: str | None) -> str:
    """The upload's base name with anything but letters, digits, ``._ -`` replaced.

    Raises ``InvalidInput`` for a missing or empty name. Directory parts are dropped, so a name
    can never point outside the uploads folder.
    """
    base = PurePosixPath((filename or "").replace("\\", "/")).name
    cleaned = _UNSAFE.sub("_", base).strip(" .")
    if not cleaned:
        raise InvalidInput("the upload has no file name")
    return cleaned[:200]


def check_upload(data: bytes, name: str) -> None:
    """Raise ``UnsupportedFormat`` unless the extension is supported and the bytes agree.

    A PDF must start with ``%PDF-`` and the zip-based formats must be zip archives; then the
    bytes are sniffed as every ingested file is (``loaders.sniff``: an executable, an archive
    or binary data under a text extension is refused), so a bad upload is refused before it
    is stored, not found failed afterwards.
    """
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise UnsupportedFormat(f"{name}: unsupported file type {suffix or '(none)'!r}")
    head = data[:1024]
    if suffix == ".pdf" and not head.lstrip().startswith(b"%PDF-"):
        raise UnsupportedFormat(f"{name}: the content is not a PDF")
    if suffix in ZIP_EXTENSIONS and not head.startswith(b"PK\x03\x04"):
        raise UnsupportedFormat(f"{name}: the content is not a {suffix[1:].upper()} file")
    check_content(data, name)
