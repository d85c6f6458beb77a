"""Content sniffing: refuse a file whose bytes are not what its extension says.

Loaders trust the extension, and the text loaders read anything: a program saved as
``notes.txt`` became a hundred passages of ``\\x7fELF`` noise, and random bytes saved as ``.md``
were indexed too. ``check_content`` looks at the bytes first and raises ``UnsupportedFormat``
(reported as a skip, with this reason) when they carry another format's magic number or, for
a text extension, are not text in any encoding charset-normalizer knows.
"""

from __future__ import annotations

import codecs
import re
from pathlib import PurePath

from rag_chatbot.errors import UnsupportedFormat
from rag_chatbot.ingestion.loaders.text import (
    guess_codec,
    is_utf8_prefix,
    text_sample,
)

# Extensions whose loader reads the bytes as text (Markdown, HTML, plain text, notebooks' JSON).
TEXT_EXTENSIONS = frozenset(
    {
        ".txt",
        ".text",
        ".md",
        ".markdown",
        ".html",
        ".htm",
        ".csv",
        ".rtf",
        ".org",
        ".adoc",
        ".asciidoc",
        ".mdx",
        ".rst",
        ".ipynb",
    }
)
# Office documents and e-books that are zip archives inside.
ZIP_EXTENSIONS = frozenset({".docx", ".epub", ".odt", ".ods", ".odp", ".pptx", ".xlsx"})

# A text file may hold a few control characters (an ESC, a form feed); more than this share of
# the characters read is a binary file that happens to decode.
MAX_CONTROL_SHARE = 0.01
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")  # all but \t \n \r \f
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

_EXECUTABLE = "an executable"
_ARCHIVE = "an archive"
_COMPRESSED = "compressed data"
_IMAGE = "an image"
_ZIP = "an archive (zip)"
_PDF = "a PDF document"

# (prefix, what it is); checked in order, first match wins.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", f"{_EXECUTABLE} (ELF)"),
    (b"\xfe\xed\xfa\xce", f"{_EXECUTABLE} (Mach-O)"),
    (b"\xfe\xed\xfa\xcf", f"{_EXECUTABLE} (Mach-O)"),
    (b"\xce\xfa\xed\xfe", f"{_EXECUTABLE} (Mach-O)"),
    (b"\xcf\xfa\xed\xfe", f"{_EXECUTABLE} (Mach-O)"),
    (b"\xca\xfe\xba\xbe", f"{_EXECUTABLE} (Mach-O or Java class)"),
    (b"\x1f\x8b", f"{_COMPRESSED} (gzip)"),
    (b"\xfd7zXZ\x00", f"{_COMPRESSED} (xz)"),
    (b"\x28\xb5\x2f\xfd", f"{_COMPRESSED} (zstd)"),
    (b"7z\xbc\xaf\x27\x1c", f"{_ARCHIVE} (7z)"),
    (b"Rar!\x1a\x07", f"{_ARCHIVE} (rar)"),
    (b"PK\x03\x04", _ZIP),
    (b"PK\x05\x06", _ZIP),  # an empty archive
    (b"PK\x07\x08", _ZIP),  # a spanned archive
    (b"%PDF-", _PDF),
    (b"\x89PNG\r\n\x1a\n", f"{_IMAGE} (PNG)"),
    (b"\xff\xd8\xff", f"{_IMAGE} (JPEG)"),
    (b"GIF87a", f"{_IMAGE} (GIF)"),
    (b"GIF89a", f"{_IMAGE} (GIF)"),
    (b"SQLite format 3\x00", "a database (SQLite)"),
)
# The formats an extension may legitimately hold.
_RIGHT_FOR = {_ZIP: ZIP_EXTENSIONS, _PDF: frozenset({".pdf"})}
# bzip2: "BZh", the block size digit, then a block or the end-of-stream marker.
_BZIP2 = re.compile(rb"BZh[1-9](?:1AY&SY|\x17\x72\x45\x38\x50\x90)")


def check_content(data: bytes, name: str) -> None:
    """Raise ``UnsupportedFormat`` when ``data`` does not look like a ``name``-type file.

    Refused: another format's magic number (an executable, an archive, compressed data, an
    image, a database; a zip is right for office documents and e-books, a PDF for ``.pdf``),
    and for a text extension NUL bytes (unless UTF-16 with a byte-order mark), bytes that no
    text encoding reads, or more than ``MAX_CONTROL_SHARE`` control characters. Other
    damage, such as a ``.pdf`` with no PDF inside, is left to the loader to report.
    """
    extension = PurePath(name).suffix.lower()
    what = _format_of(data)
    if what is not None and extension not in _RIGHT_FOR.get(what, ()):
        raise UnsupportedFormat(f"{name}: looks like {what}, not a {extension} file")
    if extension in TEXT_EXTENSIONS:
        problem = _text_problem(data)
        if problem is not None:
            raise UnsupportedFormat(f"{name}: binary content ({problem}), not a {extension} file")


def _format_of(data: bytes) -> str | None:
    """What the magic number at the start of ``data`` says it is, or None."""
    for prefix, what in _MAGIC:
        if data.startswith(prefix):
            return what
    if data.startswith(b"MZ") and b"\x00" in data[2:64]:  # a DOS/PE header, not the word "MZ"
        return f"{_EXECUTABLE} (Windows PE)"
    if _BZIP2.match(data):
        return f"{_COMPRESSED} (bzip2)"
    if data[257:262] == b"ustar":
        return f"{_ARCHIVE} (tar)"
    return None


def _text_problem(data: bytes) -> str | None:
    """Why the start of ``data`` is not text, or None when it reads as text."""
    if data.startswith(_UTF16_BOMS):
        return None
    sample = text_sample(data)
    if b"\x00" in sample:
        return "NUL bytes"
    if is_utf8_prefix(sample):
        text = sample.decode("utf-8", errors="ignore")  # at most a cut character at the end
    else:
        codec = guess_codec(sample)
        if codec is None:
            return "no text encoding reads it"
        text = sample.decode(codec, errors="replace")
    if len(_CONTROL.findall(text)) > MAX_CONTROL_SHARE * len(text):
        return "control characters"
    return None
