"""DOCX and EPUB headings become sections with heading paths and readable, unique anchors.

Every fixture is a real file written in the test with python-docx or ebooklib.
"""

from __future__ import annotations

import io
import re

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from ebooklib import epub

from rag_chatbot.domain import LoadedDocument
from rag_chatbot.ingestion.loaders.docx import DocxLoader
from rag_chatbot.ingestion.loaders.epub import EpubLoader

# --- DOCX -------------------------------------------------------------------------------------


def _save(document: object) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)  # type: ignore[attr-defined]
    return buffer.getvalue()


def _paths(doc: LoadedDocument) -> list[tuple[tuple[str, ...], str]]:
    return [(s.heading_path, s.anchor) for s in doc.sections]


def test_docx_nested_headings_give_paths_and_readable_anchors() -> None:
    document = Document()
    document.add_paragraph("Read this first.")
    document.add_heading("Getting Started", level=1)
    document.add_paragraph("Install it.")
    document.add_heading("On Linux & macOS", level=2)
    document.add_paragraph("Use the package manager.")
    document.add_heading("Shell setup", level=3)
    document.add_paragraph("Add it to PATH.")
    document.add_heading("Usage", level=1)
    document.add_paragraph("Run it.")
    doc = DocxLoader().load(_save(document), "guide.docx")
    assert _paths(doc) == [
        ((), ""),
        (("Getting Started",), "getting-started"),
        (("Getting Started", "On Linux & macOS"), "on-linux--macos"),
        (("Getting Started", "On Linux & macOS", "Shell setup"), "shell-setup"),
        (("Usage",), "usage"),
    ]
    assert doc.sections[0].text == "Read this first."
    # No title property and no "Title" paragraph: the first level-1 heading names it.
    assert doc.title == "Getting Started"


def test_docx_duplicate_headings_get_numbered_anchors() -> None:
    document = Document()
    for chapter in ("Alpha", "Beta", "Gamma"):
        document.add_heading(chapter, level=1)
        document.add_heading("Examples", level=2)
        document.add_paragraph(f"Examples of {chapter}.")
    doc = DocxLoader().load(_save(document), "g.docx")
    assert _paths(doc) == [
        (("Alpha", "Examples"), "examples"),
        (("Beta", "Examples"), "examples-2"),
        (("Gamma", "Examples"), "examples-3"),
    ]


def test_docx_custom_style_based_on_a_heading_is_a_heading() -> None:
    document = Document()
    custom = document.styles.add_style("Fancy Subhead", WD_STYLE_TYPE.PARAGRAPH)
    custom.base_style = document.styles["Heading 2"]
    document.add_heading("Chapter", level=1)
    document.add_paragraph("Intro.")
    document.add_paragraph("Details", style="Fancy Subhead")
    document.add_paragraph("More.")
    doc = DocxLoader().load(_save(document), "c.docx")
    assert _paths(doc) == [(("Chapter",), "chapter"), (("Chapter", "Details"), "details")]


def _outline(properties_owner: object, level: int) -> None:
    element = OxmlElement("w:outlineLvl")
    element.set(qn("w:val"), str(level))
    properties_owner.get_or_add_pPr().append(element)  # type: ignore[attr-defined]


def test_docx_outline_level_on_a_style_or_paragraph_makes_a_heading() -> None:
    document = Document()
    localized = document.styles.add_style("Überschrift Eins", WD_STYLE_TYPE.PARAGRAPH)
    _outline(localized.element, 0)
    document.add_paragraph("Kapitel", style="Überschrift Eins")
    document.add_paragraph("Text.")
    direct = document.add_paragraph("Abschnitt")
    _outline(direct._p, 1)
    document.add_paragraph("Mehr Text.")
    demoted = document.add_heading("Not really a heading", level=2)
    _outline(demoted._p, 9)  # outline level 9 is body text
    doc = DocxLoader().load(_save(document), "de.docx")
    assert _paths(doc) == [(("Kapitel",), "kapitel"), (("Kapitel", "Abschnitt"), "abschnitt")]
    assert doc.sections[1].text == "Mehr Text.\n\nNot really a heading"


def test_docx_title_comes_from_title_style_before_first_heading() -> None:
    document = Document()
    document.add_heading("Intro", level=1)
    document.add_paragraph("Text.")
    document.add_paragraph("The Real Title", style="Title")
    document.add_paragraph("Under the title.")
    doc = DocxLoader().load(_save(document), "t.docx")
    assert doc.title == "The Real Title"
    assert _paths(doc) == [(("Intro",), "intro"), (("The Real Title",), "the-real-title")]


def test_docx_table_stays_in_its_section_and_file_name_is_last_title() -> None:
    document = Document()
    document.add_heading("Prices", level=2)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Tea"
    table.rows[0].cells[1].text = "3 EUR"
    document.add_heading("Hours", level=2)
    document.add_paragraph("Daily.")
    doc = DocxLoader().load(_save(document), "folder/shop-notes.docx")
    assert doc.title == "shop-notes"
    assert [(s.anchor, s.text) for s in doc.sections] == [
        ("prices", "Tea | 3 EUR"),
        ("hours", "Daily."),
    ]


def test_docx_numbered_heading_is_a_heading_not_a_list_item() -> None:
    document = Document()
    heading = document.add_heading("Scope", level=1)
    numbering = OxmlElement("w:numPr")
    ilvl, num = OxmlElement("w:ilvl"), OxmlElement("w:numId")
    ilvl.set(qn("w:val"), "0")
    num.set(qn("w:val"), "1")
    numbering.extend([ilvl, num])
    heading._p.get_or_add_pPr().append(numbering)
    document.add_paragraph("What is covered.")
    doc = DocxLoader().load(_save(document), "n.docx")
    assert _paths(doc) == [(("Scope",), "scope")]


# --- EPUB -------------------------------------------------------------------------------------


def _epub(chapters: list[tuple[str, str, str, str]], *, toc: bool = True) -> bytes:
    """A book of (manifest id, file name, chapter title, body markup) chapters, in that order."""
    book = epub.EpubBook()
    book.set_identifier("sections-fixture")
    book.set_title("Field Notes")
    book.set_language("en")
    items = []
    for uid, file_name, title, body in chapters:
        item = epub.EpubHtml(uid=uid, title=title, file_name=file_name, lang="en")
        item.content = body
        book.add_item(item)
        items.append(item)
    book.toc = tuple(items) if toc else ()
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    buffer = io.BytesIO()
    epub.write_epub(buffer, book)
    return buffer.getvalue()


_MANIFEST_ID = re.compile(r"(?:id|item)_?\d+")


def test_epub_headings_without_ids_get_slugs_under_the_chapter_title() -> None:
    data = _epub(
        [
            (
                "item_5",
                "Text/rivers.xhtml",
                "Rivers",
                "<p>Water moves.</p><h2>Deltas</h2><p>Silt settles.</p>"
                "<h3>Nile Delta</h3><p>Fan shaped.</p>",
            ),
            (
                "id123",
                "Text/lakes.xhtml",
                "Lakes",
                "<h2>Deltas</h2><p>Lakes have them too.</p>",
            ),
        ]
    )
    doc = EpubLoader().load(data, "notes.epub")
    assert doc.title == "Field Notes"
    assert _paths(doc) == [
        (("Rivers",), "rivers"),
        (("Rivers", "Deltas"), "deltas"),
        (("Rivers", "Deltas", "Nile Delta"), "nile-delta"),
        (("Lakes", "Deltas"), "lakes-deltas"),
    ]


def test_epub_heading_ids_are_anchors_and_own_h1_is_not_repeated() -> None:
    data = _epub(
        [
            (
                "chapter_0",
                "one.xhtml",
                "Origins",
                "<h1 id='origins'>Origins</h1><p>Tea began.</p>"
                "<h2 id='legend'>Legend</h2><p>A leaf fell.</p>",
            ),
            ("chapter_1", "two.xhtml", "Spread", "<h2>By Sea</h2><p>Ships.</p>"),
        ]
    )
    doc = EpubLoader().load(data, "tea.epub")
    assert _paths(doc) == [
        (("Origins",), "origins"),
        (("Origins", "Legend"), "legend"),
        (("Spread", "By Sea"), "by-sea"),
    ]


def test_epub_anchors_never_look_like_manifest_ids() -> None:
    data = _epub(
        [
            # A converter that stamped the manifest id on the heading.
            ("id1", "part-a.xhtml", "", "<h1 id='id1'>Arrival</h1><p>We landed.</p>"),
            ("item_2", "part-b.xhtml", "", "<p>Untitled lead text.</p><h1>Departure</h1><p>.</p>"),
        ],
        toc=False,
    )
    doc = EpubLoader().load(data, "trip.epub")
    anchors = [s.anchor for s in doc.sections]
    assert anchors == ["arrival", "part-b", "departure"]
    assert not any(_MANIFEST_ID.fullmatch(anchor) for anchor in anchors)


def test_epub_sections_follow_the_spine_order() -> None:
    book_chapters = [
        ("c2", "second.xhtml", "Second", "<h1>Second</h1><p>Two.</p>"),
        ("c1", "first.xhtml", "First", "<h1>First</h1><p>One.</p>"),
    ]
    doc = EpubLoader().load(_epub(book_chapters), "order.epub")
    assert [s.text for s in doc.sections] == ["Two.", "One."]
