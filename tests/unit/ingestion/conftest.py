"""Builders for binary loader fixtures (PDF, DOCX, EPUB), made in the test so no blobs are kept."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest


def build_pdf(*, title: str | None = "Fixture Handbook", password: str | None = None) -> bytes:
    """Two pages of text; ``password`` encrypts it with that user password."""
    from fpdf import FPDF

    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Handbook of Lighthouses\nLighthouses guide ships at night.")
    pdf.add_page()
    pdf.multi_cell(0, 8, "The lamp is cleaned every morning.")
    if password:
        pdf.set_encryption(owner_password="owner-secret", user_password=password)
    return bytes(pdf.output())


def build_docx(*, core_title: str = "") -> bytes:
    """Title, two heading levels, a list, a code-style paragraph run and a table."""
    from docx import Document
    from docx.enum.style import WD_STYLE_TYPE

    document = Document()
    document.core_properties.title = core_title
    document.styles.add_style("Code", WD_STYLE_TYPE.PARAGRAPH)
    document.add_paragraph("Before any heading.")
    document.add_paragraph("Garden Manual", style="Title")
    document.add_heading("Planting", level=1)
    document.add_paragraph("Plant   in spring.")
    document.add_paragraph("Dig a hole.", style="List Bullet")
    document.add_paragraph("Water well.", style="List Bullet")
    document.add_heading("Tomatoes", level=2)
    document.add_paragraph("def water(plant):", style="Code")
    document.add_paragraph("    plant.water += 1", style="Code")
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, [("Plant", "Depth"), ("Tomato", "2 cm")], strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.add_heading("Harvest", level=1)
    document.add_paragraph("Pick when red.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def build_epub() -> bytes:
    """Two chapters that both use the id "intro", plus a navigation page in the spine."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("fixture-book")
    book.set_title("Tea Through the Ages")
    book.set_language("en")
    first = epub.EpubHtml(title="Origins", file_name="chap1.xhtml", lang="en")
    first.content = (
        "<h1 id='intro'>Origins</h1><p>Tea began in China.</p>"
        "<h2 id='legend'>Legend</h2><p>A leaf fell into hot water.</p>"
    )
    second = epub.EpubHtml(title="Trade", file_name="chap2.xhtml", lang="en")
    second.content = (
        "<p>Opening words before any heading.</p>"
        "<h1 id='intro'>Trade</h1><p>Ships carried tea west.</p>"
        "<pre>1610: Amsterdam\n1650: London</pre>"
    )
    for chapter in (first, second):
        book.add_item(chapter)
    book.toc = (first, second)
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", first, second]
    buffer = io.BytesIO()
    epub.write_epub(buffer, book)
    return buffer.getvalue()


# Tests import nothing from here (a second module named "conftest" would clash with
# tests/conftest.py), so the builders are handed out as fixtures.
@pytest.fixture(scope="session")
def make_pdf() -> Callable[..., bytes]:
    return build_pdf


@pytest.fixture(scope="session")
def make_docx() -> Callable[..., bytes]:
    return build_docx


@pytest.fixture(scope="session")
def pdf_bytes() -> bytes:
    return build_pdf()


@pytest.fixture(scope="session")
def docx_bytes() -> bytes:
    return build_docx()


@pytest.fixture(scope="session")
def epub_bytes() -> bytes:
    return build_epub()
