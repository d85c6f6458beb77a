"""Bounded parsing: DOCX, EPUB and HTML bombs are refused by name before a tree is built."""

from __future__ import annotations

import io
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from bombs import (
    DOCX_HEAD,
    DOCX_TAIL,
    XHTML_HEAD,
    XHTML_TAIL,
    docx_bomb,
    repeated,
    with_part,
    word_document,
)

from rag_chatbot.errors import IngestionError
from rag_chatbot.ingestion.loaders import load_bytes, load_file
from rag_chatbot.ingestion.loaders.archive import MAX_ENTRIES, MAX_PART_BYTES, check_zip
from rag_chatbot.ingestion.loaders.limits import MAX_HTML_NODES, MAX_XML_NODES

LOADER_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "loaders"


@contextmanager
def peak_growth() -> Iterator[list[int]]:
    """Yields a list that holds, afterwards, how far this process's RSS rose above its start."""
    process = psutil.Process()
    start = process.memory_info().rss
    peak = [start]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    growth = [0]
    try:
        yield growth
    finally:
        done.set()
        sampler.join()
        growth[0] = max(peak[0], process.memory_info().rss) - start


def refusal(load: Callable[[], object]) -> str:
    with pytest.raises(IngestionError) as caught:
        load()
    return str(caught.value)


# --- DOCX -------------------------------------------------------------------------------------


def test_the_reported_docx_bomb_is_refused_by_the_size_of_its_part() -> None:
    bomb = docx_bomb(31_500_000)  # 189 MB of <w:p/>: under the 200 MB total, as reported
    assert len(bomb) < 1_000_000

    message = refusal(lambda: load_bytes(bomb, "bomb.docx"))

    assert message.startswith("bomb.docx: part word/document.xml would unpack to 189")
    assert f"over the {MAX_PART_BYTES}-byte limit for one part" in message


@pytest.mark.slow
def test_a_docx_bomb_under_the_size_limit_is_refused_by_its_element_count_without_a_tree() -> None:
    # 12 MB unpacked: python-docx would build a tree of about 270 MB from it.
    bomb = docx_bomb(MAX_XML_NODES + 100_000)

    with peak_growth() as growth:
        message = refusal(lambda: load_bytes(bomb, "bomb.docx"))

    assert message == (
        "bomb.docx: part word/document.xml has more than 2,000,000 elements, "
        "over the limit for one part"
    )
    assert growth[0] < 60 * 1024 * 1024, f"RSS rose by {growth[0] >> 20} MB while counting"


def test_a_part_is_counted_whatever_its_name() -> None:
    # python-docx picks the parts it parses by content type, so a name proves nothing.
    bomb = docx_bomb(20_000, part="word/media/image1.png")
    message = refusal(lambda: check_zip(bomb, "DOCX", "b.docx", node_limit=10_000))
    assert message.startswith("b.docx: part word/media/image1.png has more than 10,000 elements")


def test_a_part_is_counted_whatever_its_encoding() -> None:
    head = DOCX_HEAD.replace(b"UTF-8", b"UTF-16").decode().encode("utf-16")  # with its BOM
    nodes = "<w:p/>".encode("utf-16-le")
    content = repeated(head, nodes, 20_000, DOCX_TAIL.decode().encode("utf-16-le"))
    bomb = with_part(word_document(), "word/document.xml", content)
    message = refusal(lambda: check_zip(bomb, "DOCX", "b.docx", node_limit=10_000))
    assert "part word/document.xml has more than 10,000 elements" in message


def test_comments_count_as_nodes() -> None:
    content = repeated(DOCX_HEAD, b"<!---->", 20_000, DOCX_TAIL)
    bomb = with_part(word_document(), "word/document.xml", content)
    assert "10,000 elements" in refusal(lambda: check_zip(bomb, "DOCX", node_limit=10_000))


def test_an_archive_of_too_many_parts_is_refused_before_zipfile_reads_them() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for number in range(MAX_ENTRIES + 1):
            archive.writestr(f"p/{number}", b"")
    message = refusal(lambda: load_bytes(buffer.getvalue(), "many.docx"))
    assert message == "many.docx has more than 10,000 parts, over the limit"


def test_an_ordinary_docx_is_within_every_limit_with_room_to_spare() -> None:
    # Its largest part, the styles, has about 9,000 nodes.
    check_zip(word_document(), "DOCX", node_limit=MAX_XML_NODES // 100)
    assert load_bytes(word_document(), "ok.docx").sections[0].text == "An ordinary paragraph."


# A paragraph as Word writes it: properties, three formatted runs, revision ids.
_WORD_PARAGRAPH = (
    b'<w:p w:rsidR="00A1" w:rsidRDefault="00B2"><w:pPr><w:pStyle w:val="BodyText"/>'
    b'<w:spacing w:after="120"/><w:jc w:val="both"/><w:rPr><w:lang w:val="en-GB"/></w:rPr>'
    b"</w:pPr>" + b'<w:r><w:rPr><w:rFonts w:ascii="Calibri"/><w:sz w:val="22"/></w:rPr>'
    b'<w:t xml:space="preserve">The keeper trims the wick and polishes the lens. </w:t></w:r>'
    * 3
    + b"</w:p>"
)


@pytest.mark.slow
def test_a_thousand_page_manual_fits_well_inside_the_limits() -> None:
    pages, paragraphs_a_page = 1_000, 25
    content = repeated(DOCX_HEAD, _WORD_PARAGRAPH, pages * paragraphs_a_page, DOCX_TAIL)
    manual = with_part(word_document(), "word/document.xml", content)

    check_zip(manual, "DOCX", node_limit=MAX_XML_NODES // 2)  # twice this would still fit
    document = load_bytes(manual, "manual.docx")

    assert sum(len(s.text) for s in document.sections) > 1_000 * 25 * 3 * 40


# --- EPUB and HTML ----------------------------------------------------------------------------


def chapter_bomb(epub: bytes, body: bytes, count: int) -> bytes:
    return with_part(epub, "EPUB/chap1.xhtml", repeated(XHTML_HEAD, body, count, XHTML_TAIL))


def test_an_epub_chapter_bomb_is_refused(epub_bytes: bytes) -> None:
    bomb = chapter_bomb(epub_bytes, b"<p/>", MAX_HTML_NODES + 1_000)
    assert len(bomb) < 100_000
    assert refusal(lambda: load_bytes(bomb, "tea.epub")) == (
        "tea.epub: part EPUB/chap1.xhtml has more than 500,000 elements, "
        "over the limit for one part"
    )


def test_an_epub_chapter_read_whole_only_as_html_is_counted_as_html(epub_bytes: bytes) -> None:
    # Two root elements: XML parsers stop after the first, so the archive check counts two
    # and the chapter read as XML has no text; the loader then reads it as HTML, all of it.
    content = iter([b"<p/>", b"<p>tea</p>" * (MAX_HTML_NODES + 1_000)])
    bomb = with_part(epub_bytes, "EPUB/chap1.xhtml", content)
    check_zip(bomb, "EPUB", node_limit=MAX_HTML_NODES)

    assert refusal(lambda: load_bytes(bomb, "tea.epub")) == (
        "tea.epub: chapter chap1.xhtml has more than 500,000 elements, over the limit for one part"
    )


def test_an_html_bomb_is_refused_by_name(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(b"<html><body>" + b"<p>" * (MAX_HTML_NODES + 1_000))  # 1.5 MB
    assert refusal(lambda: load_file(page)).startswith("page.html has more than 500,000 elements")


def test_an_html_block_bomb_in_markdown_is_refused() -> None:
    markdown = b"# Notes\n\n<div>" + b"<b></b>" * (MAX_HTML_NODES + 1_000) + b"</div>\n"
    assert "more than 500,000 elements" in refusal(lambda: load_bytes(markdown, "notes.md"))


@pytest.mark.parametrize("name", ["page.html", "guide.md"])
def test_the_fixture_pages_still_load(name: str) -> None:
    assert load_file(LOADER_FIXTURES / name).sections


def test_the_fixture_book_still_loads(epub_bytes: bytes, docx_bytes: bytes) -> None:
    assert len(load_bytes(epub_bytes, "tea.epub").sections) == 4
    assert load_bytes(docx_bytes, "garden.docx").title == "Garden Manual"
