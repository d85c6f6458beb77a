"""Content sniffing on real files: binaries under a text name are refused, legacy text is read."""

from __future__ import annotations

import gzip
import io
import os
import random
import tarfile
import zipfile
from pathlib import Path

import pytest

from rag_chatbot.errors import UnsupportedFormat
from rag_chatbot.ingestion.loaders import SUPPORTED_EXTENSIONS, load_bytes, load_file
from rag_chatbot.ingestion.loaders.sniff import TEXT_EXTENSIONS, ZIP_EXTENSIONS, check_content
from rag_chatbot.ingestion.loaders.text import SAMPLE_BYTES, decode_text

LS = Path("/bin/ls")


def real_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", "<w:document>Hello</w:document>")
    return buffer.getvalue()


def test_every_supported_extension_is_sniffed_as_text_or_as_a_container() -> None:
    # A new loader must say whether its files are text (checked for binary bytes) or not.
    sniffed = TEXT_EXTENSIONS | ZIP_EXTENSIONS | {".pdf"}
    assert sniffed >= SUPPORTED_EXTENSIONS


@pytest.mark.skipif(not LS.is_file(), reason="needs /bin/ls")
def test_a_program_saved_as_text_is_refused_naming_elf(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(LS.read_bytes())
    with pytest.raises(UnsupportedFormat) as caught:
        load_file(notes)
    assert str(caught.value) == "notes.txt: looks like an executable (ELF), not a .txt file"


def test_random_bytes_as_markdown_are_refused() -> None:
    with pytest.raises(UnsupportedFormat, match=r"^noise\.md: binary content \(NUL bytes\)"):
        load_bytes(os.urandom(200_000), "noise.md")


def test_random_bytes_without_nul_are_refused_too() -> None:
    data = bytes(b for b in os.urandom(200_000) if b)
    with pytest.raises(UnsupportedFormat, match=r"^noise\.md: binary content .*not a \.md file$"):
        check_content(data, "noise.md")


def test_text_full_of_control_characters_is_refused() -> None:
    data = b"ab\x01\x02cd\x1b\x7f" * 1000
    with pytest.raises(UnsupportedFormat, match=r"binary content \(control characters\)"):
        check_content(data, "log.txt")


def test_gzip_saved_as_html_is_refused() -> None:
    data = gzip.compress(b"<html><body><p>Hello</p></body></html>" * 50)
    with pytest.raises(
        UnsupportedFormat, match=r"^page\.html: looks like compressed data \(gzip\)"
    ):
        load_bytes(data, "page.html")


def test_tar_saved_as_markdown_is_refused() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("readme.md")
        body = b"# Readme\n"
        info.size = len(body)
        archive.addfile(info, io.BytesIO(body))
    with pytest.raises(UnsupportedFormat, match=r"looks like an archive \(tar\)"):
        check_content(buffer.getvalue(), "readme.md")


@pytest.mark.parametrize("extension", sorted(ZIP_EXTENSIONS))
def test_a_zip_is_right_for_office_documents_and_ebooks(extension: str) -> None:
    check_content(real_zip(), f"report{extension}")  # the loader judges what is inside


def test_a_zip_saved_as_text_is_refused() -> None:
    with pytest.raises(UnsupportedFormat, match=r"^a\.txt: looks like an archive \(zip\)"):
        check_content(real_zip(), "a.txt")


def test_a_pdf_passes_as_pdf_and_is_refused_as_text_or_docx(pdf_bytes: bytes) -> None:
    check_content(pdf_bytes, "handbook.pdf")
    assert load_bytes(pdf_bytes, "handbook.pdf").sections
    for name in ("handbook.txt", "handbook.docx"):
        with pytest.raises(UnsupportedFormat, match=r"looks like a PDF document"):
            load_bytes(pdf_bytes, name)


def test_an_executable_is_refused_whatever_the_extension() -> None:
    pe = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(56) + b"This program cannot be run in DOS mode."
    for name in ("setup.pdf", "setup.docx", "setup.md"):
        with pytest.raises(UnsupportedFormat, match=r"an executable \(Windows PE\)"):
            check_content(pe, name)


def test_text_that_merely_starts_like_a_magic_number_is_text() -> None:
    for text in ("MZ is the code of Mozambique.\n", "BZh9 is a bzip2 header.\n", "7z files\n"):
        assert load_bytes(text.encode(), "notes.txt").sections


def test_latin1_text_is_decoded_correctly() -> None:
    data = "Le café est prêt. Naïve crème brûlée.\n".encode("latin-1") * 100
    doc = load_bytes(data, "menu.txt")
    assert doc.sections[0].text.startswith("Le café est prêt. Naïve crème brûlée.")
    assert "\ufffd" not in doc.sections[0].text


def test_cp1252_euro_sign_and_curly_quotes_are_decoded_correctly() -> None:
    apostrophe, dash = "\u2019", "\u2013"  # the right single quote and the en dash
    lines = (
        (
            "The menu costs 12 € per person. "
            "She said “it's the best café in town” — and she's right.\n"
            "Our naïve guests ordered crème brûlée twice; the chef's reply was “merci”.\n"
            "Prices: coffee 2,50 €, tea 2 €, cake 4 €. Opening hours - Monday to Friday.\n"
        )
        .replace("'", apostrophe)
        .replace(" - ", f" {dash} ")
    )
    doc = load_bytes((lines * 20).encode("cp1252"), "menu.md")
    text = doc.sections[0].text
    assert f"12 € per person. She said “it{apostrophe}s the best café in town” —" in text
    assert f"Opening hours {dash} Monday" in text
    assert "\ufffd" not in text


def test_utf16_with_a_byte_order_mark_still_loads() -> None:
    data = "Grüße aus München.\n\nZweiter Absatz.".encode("utf-16")
    assert data.startswith((b"\xff\xfe", b"\xfe\xff"))
    doc = load_bytes(data, "gruss.txt")
    assert doc.sections[0].text == "Grüße aus München.\n\nZweiter Absatz."


def test_utf8_markdown_still_loads() -> None:
    data = "# Café guide\n\n## Ordering\n\nAsk for a crème brûlée — ça va.\n".encode()
    doc = load_bytes(data, "guide.md")
    assert doc.title == "Café guide"
    assert doc.sections[0].text == "Ask for a crème brûlée — ça va."


def test_a_large_utf8_file_with_one_bad_byte_late_stays_utf8() -> None:
    line = "Ünïcödé text, line after line.\n".encode()
    data = line * (2 * SAMPLE_BYTES // len(line)) + b"bad \xff byte\n"
    check_content(data, "long.txt")
    text = decode_text(data)
    assert text.startswith("Ünïcödé text") and text.endswith("bad \ufffd byte\n")


def test_bytes_no_codec_reads_fall_back_to_replacement_characters() -> None:
    data = bytes(b for b in random.Random(7).randbytes(20_000) if b)
    text = decode_text(data)
    assert "\ufffd" in text
