"""Document loaders: titles, heading paths, anchors and text for each format, and their errors."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag_chatbot.domain import LoadedDocument, Section
from rag_chatbot.errors import IngestionError, UnsupportedFormat
from rag_chatbot.ingestion.loaders import (
    SUPPORTED_EXTENSIONS,
    MarkdownLoader,
    load_bytes,
    load_file,
    loader_for,
)
from rag_chatbot.ingestion.loaders.archive import check_zip
from rag_chatbot.ingestion.loaders.sections import Anchors, slugify

LOADER_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "loaders"
CORPUS = Path(__file__).resolve().parents[4] / "shared" / "eval" / "docs-faq" / "corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared eval corpus not present")


def section(doc: LoadedDocument, *path: str) -> Section:
    matches = [s for s in doc.sections if s.heading_path == path]
    assert len(matches) == 1, [s.heading_path for s in doc.sections]
    return matches[0]


# --- registry ---------------------------------------------------------------------------------


def test_supported_extensions_cover_every_format() -> None:
    expected = {".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".epub", ".txt", ".text"}
    expected |= {".odt", ".pptx", ".rtf", ".csv", ".org", ".adoc", ".asciidoc"}
    expected |= {".mdx", ".rst", ".ipynb"}
    assert expected == SUPPORTED_EXTENSIONS


def test_loader_is_chosen_by_extension_ignoring_case() -> None:
    assert loader_for("NOTES.MD").media_type == "text/markdown"
    assert loader_for("dir/page.htm").media_type == "text/html"


@pytest.mark.parametrize("name", ["sheet.xlsx", "archive.tar.gz", "README"])
def test_unknown_extension_is_unsupported(name: str) -> None:
    with pytest.raises(UnsupportedFormat) as caught:
        load_bytes(b"whatever", name)
    extension = Path(name).suffix
    assert (f"'{extension}'" if extension else "without an extension") in str(caught.value)
    assert caught.value.error_code == "UNSUPPORTED_FORMAT"


def test_load_file_reads_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text("First paragraph.\n\nSecond   paragraph\nwraps here.\n", encoding="utf-8")
    doc = load_file(path)
    assert doc.title == "note"
    assert doc.sections == (Section((), "", "First paragraph.\n\nSecond paragraph wraps here."),)


def test_load_file_that_cannot_be_read_raises_ingestion_error(tmp_path: Path) -> None:
    with pytest.raises(IngestionError, match="cannot read"):
        load_file(tmp_path / "missing.md")


@pytest.mark.parametrize("extension", sorted(SUPPORTED_EXTENSIONS))
@pytest.mark.parametrize("data", [b"", b"  \n\t\r\n "])
def test_empty_file_gives_no_sections(extension: str, data: bytes) -> None:
    doc = load_bytes(data, f"empty{extension}")
    assert doc.sections == ()
    assert doc.title == "empty"


# --- text and Markdown ------------------------------------------------------------------------


def test_text_in_a_legacy_encoding_is_decoded_as_such() -> None:
    doc = load_bytes(b"caf\xe9 au lait", "menu.txt")
    assert doc.sections[0].text == "caf\u00e9 au lait"


def test_byte_order_mark_is_not_part_of_the_text() -> None:
    doc = load_bytes(b"\xef\xbb\xbf# Title\n\nBody", "bom.md")
    assert doc.title == "Title"
    assert doc.sections[0].text == "Body"


@pytest.fixture(scope="module")
def guide() -> LoadedDocument:
    return load_file(LOADER_FIXTURES / "guide.md")


def test_markdown_title_comes_from_front_matter(guide: LoadedDocument) -> None:
    assert guide.title == "Brewing Guide"
    assert guide.media_type == "text/markdown"


def test_markdown_heading_paths_and_slugs(guide: LoadedDocument) -> None:
    assert [(s.heading_path, s.anchor) for s in guide.sections] == [
        ((), ""),
        (("Brewing Tea",), "brewing-tea"),
        (("Brewing Tea", "Green tea"), "green-tea"),
        (("Brewing Tea", "Black tea"), "black-tea"),
        (("Brewing Tea", "Black tea", "Notes"), "notes"),
        (("Brewing Tea", "Green tea"), "green-tea-1"),
    ]


def test_markdown_paragraph_whitespace_is_collapsed(guide: LoadedDocument) -> None:
    assert guide.sections[0].text == "A short guide to brewing tea at home."
    assert guide.sections[1].text == "Tea is brewed with hot water, not boiling water."


def test_markdown_fence_is_verbatim_and_not_a_heading(guide: LoadedDocument) -> None:
    text = guide.sections[2].text
    assert (
        "# heat the water first: this line is code, not a heading\n"
        "kettle --temperature 80\n"
        "    steep --minutes 2"
    ) in text
    assert all("heat the water" not in h for s in guide.sections for h in s.heading_path)


def test_markdown_table_rows_and_lists(guide: LoadedDocument) -> None:
    assert "Tea | Temperature | Minutes\nGreen | 80 °C | 2\nBlack | 95 °C | 4" in (
        guide.sections[2].text
    )
    assert guide.sections[3].text == (
        "- Warm the pot.\n- Add one spoon per cup.\n  - Plus one for the pot."
    )


def test_markdown_title_falls_back_to_first_h1_then_file_name() -> None:
    assert load_bytes(b"intro\n\n## Sub\n\ntext\n\n# Main\n\nbody", "x.md").title == "Main"
    assert load_bytes(b"## Only a subheading\n\ntext", "my-notes.md").title == "my-notes"


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_markdown_never_fails_and_never_yields_empty_sections(source: str) -> None:
    doc = MarkdownLoader().load(source.encode("utf-8", "surrogatepass"), "prop.md")
    assert all(s.text.strip() for s in doc.sections)
    slugs = [s.anchor for s in doc.sections if s.heading_path]
    assert len(slugs) == len(set(slugs))


@given(st.lists(st.text(max_size=20), max_size=20))
def test_anchors_hands_out_unique_github_style_slugs(titles: list[str]) -> None:
    anchors = Anchors()
    slugs = [anchors.slug(title) for title in titles]
    assert len(slugs) == len(set(slugs))
    assert all(re.fullmatch(r"[\w-]+", slug) for slug in slugs)


def test_slugify_follows_github() -> None:
    assert slugify("Hello, World!") == "hello-world"
    assert slugify("  The `init()` call  ") == "the-init-call"
    assert slugify("Café au lait") == "café-au-lait"


# --- HTML -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page() -> LoadedDocument:
    return load_file(LOADER_FIXTURES / "page.html")


def test_html_title_heading_paths_and_anchors(page: LoadedDocument) -> None:
    assert page.title == "Compost Basics"
    assert [(s.heading_path, s.anchor) for s in page.sections] == [
        (("Compost Basics",), "compost-basics"),  # the heading's own id
        (("Compost Basics", "Greens and browns"), "greens-and-browns"),  # enclosing <section>
        (("Compost Basics", "Turning the pile"), "turning"),  # preceding <a name>
        (("Compost Basics", "Turning the pile", "Tools"), "tools"),  # slug
        (("Compost Basics", "Troubleshooting"), "troubleshooting"),
    ]


def test_html_chrome_is_dropped(page: LoadedDocument) -> None:
    everything = "\n".join(s.text for s in page.sections)
    for marker in (
        "SCRIPT-TEXT", "NAV-LINK", "BREADCRUMB", "TOC-TEXT", "ASIDE-TEXT", "FOOTER-TEXT",
        "NOSCRIPT-TEXT", "Search the site", "Garden Site", "font-family",
    ):  # fmt: skip
        assert marker not in everything


def test_html_paragraphs_lists_tables_and_code(page: LoadedDocument) -> None:
    assert page.sections[0].text == "Composting turns kitchen scraps into soil."
    assert page.sections[1].text == (
        "Mix green and brown material.\n\n"
        "- Greens: grass, peels.\n- Browns: leaves, cardboard.\n  - Shred cardboard first.\n\n"
        "Material | Type\nCoffee grounds | Green\nDry leaves | Brown"
    )
    assert page.sections[2].text == (
        "Turn the pile every week.\n\nweek 1: turn\nweek 2:   turn again"
    )


def test_html_header_holding_the_page_title_is_kept() -> None:
    markup = b"""<html><head><title>tool(1)</title></head><body>
    <div id="header"><h1>tool(1) Manual Page</h1><h2>NAME</h2>
    <div class="sectionbody"><p>tool - does one thing well</p></div></div>
    <div id="content"><div class="sect1"><h2 id="_synopsis">SYNOPSIS</h2>
    <pre>tool [--flag]</pre></div></div>
    <div id="footer">Last updated today</div></body></html>"""
    doc = load_bytes(markup, "tool.html")
    assert section(doc, "tool(1) Manual Page", "NAME").text == "tool - does one thing well"
    assert section(doc, "tool(1) Manual Page", "SYNOPSIS").anchor == "_synopsis"
    assert all("Last updated" not in s.text for s in doc.sections)


def test_html_unclosed_heading_does_not_swallow_the_page() -> None:
    markup = b"<body><h2>Documentation</h1><ul><li>First doc</li></ul><p>More.</p></body>"
    doc = load_bytes(markup, "docs.html")
    assert doc.sections == (Section(("Documentation",), "documentation", "- First doc\n\nMore."),)


def test_html_title_falls_back_to_h1_then_file_name() -> None:
    assert load_bytes(b"<h1>Heading Title</h1><p>x</p>", "a.html").title == "Heading Title"
    assert load_bytes(b"<p>just text</p>", "plain-page.html").title == "plain-page"


def test_html_slug_does_not_reuse_an_existing_id() -> None:
    doc = load_bytes(b"<div id='usage'>x</div><h2>Usage</h2><p>y</p>", "p.html")
    assert section(doc, "Usage").anchor == "usage-1"


# --- PDF --------------------------------------------------------------------------------------


def test_pdf_has_one_section_per_page(pdf_bytes: bytes) -> None:
    doc = load_bytes(pdf_bytes, "handbook.pdf")
    assert doc.title == "Fixture Handbook"
    assert doc.media_type == "application/pdf"
    assert [(s.heading_path, s.anchor) for s in doc.sections] == [
        (("Page 1",), "page-1"),
        (("Page 2",), "page-2"),
    ]
    assert "Lighthouses guide ships at night." in doc.sections[0].text
    assert doc.sections[1].text == "The lamp is cleaned every morning."


def test_pdf_title_falls_back_to_first_line(make_pdf: Callable[..., bytes]) -> None:
    doc = load_bytes(make_pdf(title=None), "handbook.pdf")
    assert doc.title == "Handbook of Lighthouses"


@pytest.mark.parametrize(
    "data", [b"%PDF-1.4\nthis is not really a pdf", b"\x00\x01 random bytes", b"%PDF-1.7\n%%EOF"]
)
def test_corrupt_pdf_raises_ingestion_error_with_reason(data: bytes) -> None:
    with pytest.raises(IngestionError, match=r"not a valid PDF: .+") as caught:
        load_bytes(data, "broken.pdf")
    assert caught.value.__cause__ is not None


def test_password_protected_pdf_raises_a_clear_error(make_pdf: Callable[..., bytes]) -> None:
    with pytest.raises(IngestionError, match="password"):
        load_bytes(make_pdf(password="open-sesame"), "locked.pdf")


# --- DOCX -------------------------------------------------------------------------------------


def test_docx_headings_lists_code_and_tables(docx_bytes: bytes) -> None:
    doc = load_bytes(docx_bytes, "manual.docx")
    assert doc.title == "Garden Manual"
    assert [(s.heading_path, s.anchor) for s in doc.sections] == [
        ((), ""),
        (("Garden Manual", "Planting"), "planting"),
        (("Garden Manual", "Planting", "Tomatoes"), "tomatoes"),
        (("Garden Manual", "Harvest"), "harvest"),
    ]
    assert doc.sections[1].text == "Plant in spring.\n\n- Dig a hole.\n- Water well."
    assert doc.sections[2].text == (
        "def water(plant):\n    plant.water += 1\n\nPlant | Depth\nTomato | 2 cm"
    )


def test_docx_title_prefers_the_document_property(make_docx: Callable[..., bytes]) -> None:
    assert load_bytes(make_docx(core_title="Official"), "m.docx").title == "Official"


def test_corrupt_docx_raises_ingestion_error_with_reason() -> None:
    with pytest.raises(IngestionError, match=r"not a valid DOCX file .*not a zip"):
        load_bytes(b"PK\x03\x04 but not really a zip", "broken.docx")


def test_zip_that_is_not_a_word_document_raises_ingestion_error() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a document")
    with pytest.raises(IngestionError, match="not a valid DOCX") as caught:
        load_bytes(buffer.getvalue(), "fake.docx")
    assert caught.value.__cause__ is not None


def test_archive_that_unpacks_too_large_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"0" * 5000)
    with pytest.raises(IngestionError, match="over the 1000-byte limit"):
        check_zip(buffer.getvalue(), "DOCX", limit=1000)
    check_zip(buffer.getvalue(), "DOCX", limit=5000)


# --- EPUB -------------------------------------------------------------------------------------


def test_epub_chapters_in_spine_order_with_unique_anchors(epub_bytes: bytes) -> None:
    doc = load_bytes(epub_bytes, "tea.epub")
    assert doc.title == "Tea Through the Ages"
    assert doc.media_type == "application/epub+zip"
    assert [(s.heading_path, s.anchor) for s in doc.sections] == [
        (("Origins",), "intro"),
        (("Origins", "Legend"), "legend"),
        (("Trade",), "chap2"),
        (("Trade",), "chap2-intro"),
    ]
    assert doc.sections[3].text == "Ships carried tea west.\n\n1610: Amsterdam\n1650: London"


def test_corrupt_epub_raises_ingestion_error_with_reason() -> None:
    with pytest.raises(IngestionError, match="not a valid EPUB file"):
        load_bytes(b"definitely not an epub", "broken.epub")


# --- the real evaluation corpus ---------------------------------------------------------------


@needs_corpus
def test_sqlite_page_drops_the_site_menu_and_keeps_heading_ids() -> None:
    doc = load_file(CORPUS / "sqlite" / "autoinc.html")
    assert doc.title == "SQLite Autoincrement"
    summary = next(s for s in doc.sections if any("Summary" in h for h in s.heading_path))
    assert summary.anchor == "summary"
    assert "AUTOINCREMENT keyword imposes extra CPU" in summary.text
    everything = "\n".join(s.text for s in doc.sections)
    assert "Small. Fast. Reliable." not in everything
    assert "Search Documentation" not in everything


@needs_corpus
def test_git_man_page_keeps_its_name_section() -> None:
    doc = load_file(CORPUS / "git" / "git-rebase.html")
    everything = "\n".join(s.text for s in doc.sections)
    assert "git-rebase - Reapply commits on top of another base tip" in everything
    assert "_synopsis" in {s.anchor for s in doc.sections}
    assert "Last updated" not in everything
