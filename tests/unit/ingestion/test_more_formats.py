"""ODT, PPTX, RTF, CSV, Org and AsciiDoc: real files made with the formats' own libraries.

Each format is checked for its title, its sections' heading paths and anchors, and their text;
the binary ones also for a one-line ``IngestionError`` on a damaged file, and the zip-based
ones for refusing expansion bombs by the same limits as DOCX.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import pytest
from bombs import repeated, with_part, word_document

from rag_chatbot.domain import LoadedDocument, Section
from rag_chatbot.errors import IngestionError
from rag_chatbot.ingestion.loaders import load_bytes
from rag_chatbot.ingestion.loaders import odt as odt_module
from rag_chatbot.ingestion.loaders import pptx as pptx_module
from rag_chatbot.ingestion.loaders.archive import MAX_PART_BYTES
from rag_chatbot.ingestion.loaders.csv import ROWS_PER_SECTION
from rag_chatbot.ingestion.loaders.odt import MAX_ODF_NODES
from rag_chatbot.ingestion.loaders.rtf import _without_binary_groups
from rag_chatbot.ingestion.loaders.zip_nodes import check_total_nodes


def outline(doc: LoadedDocument) -> list[tuple[tuple[str, ...], str]]:
    return [(s.heading_path, s.anchor) for s in doc.sections]


def refusal(load: Callable[[], object]) -> str:
    """The message of the ``IngestionError`` that ``load`` raises, checked to be one line."""
    with pytest.raises(IngestionError) as caught:
        load()
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


# --- ODT --------------------------------------------------------------------------------------

ODT_HEAD = (
    b"<?xml version='1.0' encoding='UTF-8'?>\n"
    b'<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
    b' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text>'
)
ODT_TAIL = b"</office:text></office:body></office:document-content>"


def build_odt(*, meta_title: str = "", title_style: bool = True) -> bytes:
    """Text before a heading, a Title paragraph, a table of contents, two heading levels, a
    list, a run of preformatted paragraphs and a table."""
    from odf import dc
    from odf.opendocument import OpenDocumentText
    from odf.style import Style
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import H, IndexBody, List, ListItem, P, S, TableOfContent

    doc = OpenDocumentText()
    if meta_title:
        doc.meta.addElement(dc.Title(text=meta_title))
    title = Style(name="Title", family="paragraph")
    code = Style(name="Preformatted_20_Text", displayname="Preformatted Text", family="paragraph")
    doc.styles.addElement(title)
    doc.styles.addElement(code)
    doc.text.addElement(P(text="Before any heading."))
    if title_style:
        doc.text.addElement(P(stylename=title, text="Garden Manual"))
    contents = TableOfContent(name="Contents")
    index = IndexBody()
    index.addElement(P(text="Planting ........ 1"))
    contents.addElement(index)
    doc.text.addElement(contents)
    doc.text.addElement(H(outlinelevel=1, text="Planting"))
    paragraph = P(text="Plant")
    paragraph.addElement(S(c=3))
    paragraph.addText("in spring.")
    doc.text.addElement(paragraph)
    steps = List()
    for step in ("Dig a hole.", "Water well."):
        item = ListItem()
        item.addElement(P(text=step))
        steps.addElement(item)
    doc.text.addElement(steps)
    doc.text.addElement(H(outlinelevel=2, text="Tomatoes"))
    doc.text.addElement(P(stylename=code, text="def water(plant):"))
    doc.text.addElement(P(stylename=code, text="    plant.water += 1"))
    table = Table()
    table.addElement(TableColumn(numbercolumnsrepeated=2))
    for cells in [("Plant", "Depth"), ("Tomato", "2 cm")]:
        row = TableRow()
        for text in cells:
            cell = TableCell()
            cell.addElement(P(text=text))
            row.addElement(cell)
        table.addElement(row)
    doc.text.addElement(table)
    doc.text.addElement(H(outlinelevel=1, text="Harvest"))
    doc.text.addElement(P(text="Pick when red."))
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def test_odt_headings_lists_code_and_tables() -> None:
    doc = load_bytes(build_odt(), "manual.odt")
    assert doc.title == "Garden Manual"
    assert doc.media_type == "application/vnd.oasis.opendocument.text"
    assert outline(doc) == [
        ((), ""),
        (("Garden Manual", "Planting"), "planting"),
        (("Garden Manual", "Planting", "Tomatoes"), "tomatoes"),
        (("Garden Manual", "Harvest"), "harvest"),
    ]
    assert doc.sections[0].text == "Before any heading."  # the table of contents is left out
    assert doc.sections[1].text == "Plant in spring.\n\n- Dig a hole.\n- Water well."
    assert doc.sections[2].text == (
        "def water(plant):\n    plant.water += 1\n\nPlant | Depth\nTomato | 2 cm"
    )


def test_odt_title_is_the_metadata_else_the_first_heading() -> None:
    assert load_bytes(build_odt(meta_title="Official"), "m.odt").title == "Official"
    assert load_bytes(build_odt(title_style=False), "m.odt").title == "Planting"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"PK\x03\x04 but not really a zip", "m.odt: not a valid ODT file (not a zip archive)"),
        (word_document(), "m.odt: not a valid ODT file: KeyError("),
        (
            with_part(build_odt(), "content.xml", [ODT_HEAD + b"<text:p>cut off"]),
            "m.odt: not a valid ODT file: a part is not well-formed XML",
        ),
        (
            with_part(
                build_odt(),
                "content.xml",
                [ODT_HEAD + b"<text:section>" * 5_000 + b"</text:section>" * 5_000 + ODT_TAIL],
            ),
            "m.odt: elements nested too deeply to read",
        ),
    ],
    ids=["not-a-zip", "a-docx", "broken-xml", "too-deep"],
)
def test_damaged_odt_is_refused_in_one_line(data: bytes, reason: str) -> None:
    assert refusal(lambda: load_bytes(data, "m.odt")).startswith(reason)


def test_an_opendocument_spreadsheet_is_not_read_as_text() -> None:
    from odf.opendocument import OpenDocumentSpreadsheet

    buffer = io.BytesIO()
    OpenDocumentSpreadsheet().save(buffer)
    assert refusal(lambda: load_bytes(buffer.getvalue(), "s.odt")) == (
        "s.odt: not an OpenDocument text but 'application/vnd.oasis.opendocument.spreadsheet'"
    )


@pytest.mark.slow
def test_an_odt_bomb_is_refused_by_its_element_count() -> None:
    content = repeated(ODT_HEAD, b"<text:p/>", MAX_ODF_NODES + 1_000, ODT_TAIL)
    bomb = with_part(build_odt(), "content.xml", content)
    assert len(bomb) < 100_000
    assert refusal(lambda: load_bytes(bomb, "bomb.odt")) == (
        "bomb.odt: part content.xml has more than 500,000 elements, over the limit for one part"
    )


def test_odt_parts_are_bounded_together(monkeypatch: pytest.MonkeyPatch) -> None:
    # odfpy builds a tree of every part it reads: two parts under the limit may be over it.
    monkeypatch.setattr(odt_module, "MAX_ODF_NODES", 10_000)
    bomb = build_odt()
    for part in ("content.xml", "styles.xml"):
        bomb = with_part(bomb, part, repeated(ODT_HEAD, b"<text:p/>", 6_000, ODT_TAIL))
    assert refusal(lambda: load_bytes(bomb, "split.odt")) == (
        "split.odt has more than 10,000 XML elements in all its parts, "
        "over the limit for one document"
    )


def test_an_ordinary_odt_is_far_inside_the_limits() -> None:
    check_total_nodes(build_odt(), "ok.odt", MAX_ODF_NODES // 100)


# --- PPTX -------------------------------------------------------------------------------------

SLIDE_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<p:sld xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    b'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"><p:cSld><p:spTree>'
)
SLIDE_TAIL = b"</p:spTree></p:cSld></p:sld>"


def build_pptx(*, core_title: str = "") -> bytes:
    """A title slide, a bullet slide with notes, a table slide, a slide without a title (a text
    box and a group), and a slide with nothing but its title."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    deck.core_properties.title = core_title
    cover = deck.slides.add_slide(deck.slide_layouts[0])
    cover.shapes.title.text = "Quarterly Review"
    cover.placeholders[1].text = "Sales team,   2024"
    bullets = deck.slides.add_slide(deck.slide_layouts[1])
    bullets.shapes.title.text = "Results"
    frame = bullets.placeholders[1].text_frame
    frame.text = "Revenue up 12%"
    point = frame.add_paragraph()
    point.text = "Costs flat"
    point.level = 1
    bullets.notes_slide.notes_text_frame.text = "Mention the new region."
    regions = deck.slides.add_slide(deck.slide_layouts[5])
    regions.shapes.title.text = "Regions"
    shape = regions.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1))
    for i, cells in enumerate([("Region", "Growth"), ("North", "8%")]):
        for j, text in enumerate(cells):
            shape.table.cell(i, j).text = text
    blank = deck.slides.add_slide(deck.slide_layouts[6])
    box = blank.shapes.add_textbox(Inches(1), Inches(1), Inches(3), Inches(1))
    box.text_frame.text = "Text on a slide without a title."
    group = blank.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(1), Inches(3), Inches(3), Inches(1)).text = "Grouped note."
    deck.slides.add_slide(deck.slide_layouts[5]).shapes.title.text = "Questions?"
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def test_pptx_has_a_section_per_slide_titled_by_the_slide() -> None:
    doc = load_bytes(build_pptx(), "review.pptx")
    assert doc.title == "Quarterly Review"
    assert doc.media_type.endswith("presentationml.presentation")
    assert outline(doc) == [
        (("Quarterly Review",), "slide-1"),
        (("Results",), "slide-2"),
        (("Regions",), "slide-3"),
        (("Slide 4",), "slide-4"),
    ]  # slide 5 has a title and nothing else
    assert [s.text for s in doc.sections] == [
        "Sales team, 2024",
        "Revenue up 12%\nCosts flat\n\nMention the new region.",
        "Region | Growth\nNorth | 8%",
        "Text on a slide without a title.\n\nGrouped note.",
    ]


def test_pptx_title_prefers_the_document_property() -> None:
    assert load_bytes(build_pptx(core_title="Official"), "r.pptx").title == "Official"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"PK\x03\x04 but not really a zip", "r.pptx: not a valid PPTX file (not a zip archive)"),
        (word_document(), "r.pptx: not a valid PPTX file: ValueError("),
    ],
    ids=["not-a-zip", "a-docx"],
)
def test_damaged_pptx_is_refused_in_one_line(data: bytes, reason: str) -> None:
    assert refusal(lambda: load_bytes(data, "r.pptx")).startswith(reason)


def test_a_pptx_bomb_is_refused_by_the_size_of_its_part() -> None:
    nodes = MAX_PART_BYTES // 6 + 100_000  # 6 bytes a <a:p/>
    bomb = with_part(build_pptx(), "ppt/slides/slide2.xml", repeated(b"", b"<a:p/>", nodes, b""))
    message = refusal(lambda: load_bytes(bomb, "bomb.pptx"))
    assert message.startswith("bomb.pptx: part ppt/slides/slide2.xml would unpack to 10")
    assert f"over the {MAX_PART_BYTES}-byte limit for one part" in message


def test_pptx_slides_are_bounded_together(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each slide is under the per-part limit; python-pptx would build a tree of all of them.
    monkeypatch.setattr(pptx_module, "MAX_XML_NODES", 10_000)
    bomb = build_pptx()
    for slide in ("ppt/slides/slide1.xml", "ppt/slides/slide2.xml"):
        bomb = with_part(bomb, slide, repeated(SLIDE_HEAD, b"<a:p/>", 6_000, SLIDE_TAIL))
    assert refusal(lambda: load_bytes(bomb, "split.pptx")) == (
        "split.pptx has more than 10,000 XML elements in all its parts, "
        "over the limit for one document"
    )


def test_an_ordinary_pptx_is_far_inside_the_limits() -> None:
    check_total_nodes(build_pptx(), "ok.pptx", pptx_module.MAX_XML_NODES // 100)


# --- RTF --------------------------------------------------------------------------------------

RTF = (
    rb"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss Helvetica;}}"
    rb"{\info{\title Caf\'e9 Notes}{\author A. Writer}}"
    rb"{\*\themedata 504b030414000600}{\*\shppict{\pict\pngblip 89504e470d0a1a0a}}"
    rb"\f0\pard The caf\'e9 opens at {\b eight}.\par "
    rb"Prices in \u8364? only.\par "
    rb"\trowd\cellx1000\cellx2000 Day\cell Hours\cell\row "
    rb"\trowd\cellx1000\cellx2000 Mon\cell 8-5\cell\row "
    rb"Closed on holidays.\par}"
)


def test_rtf_is_one_section_of_its_paragraphs_and_table() -> None:
    doc = load_bytes(RTF, "notes.rtf")
    assert doc.title == "Café Notes"
    assert doc.media_type == "application/rtf"
    assert doc.sections == (
        Section(
            (),
            "",
            "The café opens at eight.\n\nPrices in € only.\n\nDay | Hours\nMon | 8-5"
            "\n\nClosed on holidays.",
        ),
    )


def test_rtf_without_a_title_is_named_after_the_file() -> None:
    assert load_bytes(rb"{\rtf1\ansi Hello.\par}", "dir/letter.rtf").title == "letter"


def test_pictures_are_cut_out_before_the_text_is_read() -> None:
    source = r"{\rtf1 a{\*\shppict{\pict{\*\picprop{\sp x}}0a0b0c}}b{\*\themedata 50}c\{d}"
    assert _without_binary_groups(source) == r"{\rtf1 a{\*\shppict}bc\{d}"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"Plain text, not RTF.", r"x.rtf: not a valid RTF file (it does not start with {\rtf)"),
        (rb"{\rtf1 \u99999999999? text}", "x.rtf: not a valid RTF file: OverflowError("),
    ],
    ids=["no-header", "bad-unicode"],
)
def test_damaged_rtf_is_refused_in_one_line(data: bytes, reason: str) -> None:
    assert refusal(lambda: load_bytes(data, "x.rtf")).startswith(reason)


# --- CSV --------------------------------------------------------------------------------------


def test_csv_rows_read_as_column_value_lines_under_their_header() -> None:
    data = (
        b'city,population,note\nOslo,709000,"capital, largest"\n\n'
        b"Bergen,291000,\nTrondheim,212000,tech,NTNU\n"
    )
    doc = load_bytes(data, "data/cities.csv")
    assert doc.title == "cities"
    assert doc.media_type == "text/csv"
    assert outline(doc) == [(("Rows 2-5",), "rows-2-5")]
    assert doc.sections[0].text.split("\n\n") == [
        "city: Oslo\npopulation: 709000\nnote: capital, largest",
        "city: Bergen\npopulation: 291000",  # the empty note is left out
        "city: Trondheim\npopulation: 212000\nnote: tech\ncolumn 4: NTNU",
    ]


def test_csv_separator_is_taken_from_the_header() -> None:
    doc = load_bytes("Name;Price\nTea;2,50\n".encode("cp1252"), "prices.csv")
    assert doc.sections == (Section(("Row 2",), "row-2", "Name: Tea\nPrice: 2,50"),)


def test_csv_rows_are_grouped_into_numbered_sections() -> None:
    rows = "".join(f"item {n},{n}\n" for n in range(2 * ROWS_PER_SECTION + 3))
    doc = load_bytes(f"name,count\n{rows}".encode(), "items.csv")
    last = 2 * ROWS_PER_SECTION + 4
    assert [s.anchor for s in doc.sections] == [
        f"rows-2-{ROWS_PER_SECTION + 1}",
        f"rows-{ROWS_PER_SECTION + 2}-{2 * ROWS_PER_SECTION + 1}",
        f"rows-{2 * ROWS_PER_SECTION + 2}-{last}",
    ]
    assert doc.sections[-1].text.endswith(f"name: item {last - 2}\ncount: {last - 2}")


def test_a_csv_with_only_a_header_has_no_sections() -> None:
    assert load_bytes(b"a,b,c\n", "empty.csv").sections == ()


def test_csv_with_a_quote_never_closed_is_refused_in_one_line() -> None:
    data = b'a,b\n"this quote runs to the end,' + b"x" * 200_000 + b"\n"
    assert refusal(lambda: load_bytes(data, "bad.csv")) == (
        "bad.csv: not a valid CSV file: field larger than field limit (131072) (line 2)"
    )


# --- Org --------------------------------------------------------------------------------------

ORG = """\
#+TITLE: Lab Notebook
#+OPTIONS: toc:nil
Notes kept
while testing.

* TODO [#A] Setup :lab:
  :PROPERTIES:
  :CUSTOM_ID: getting-ready
  :END:
  SCHEDULED: <2024-01-08 Mon>
Install the [[https://example.org/kit][kit]] first.
- one item,
  wrapped
- two
** Calibration
#+BEGIN_SRC python
,* an escaped star
x = 1
#+END_SRC
:LOGBOOK:
CLOCK: [2024-01-08 Mon 10:00]
:END:
#+begin_quote
Measure twice.
#+end_quote
* Results
| sample | value |
|--------+-------|
| a      | 1     |
* Results
# a comment
Again.
"""


def test_org_headlines_are_sections() -> None:
    doc = load_bytes(ORG.encode(), "lab.org")
    assert doc.title == "Lab Notebook"
    assert doc.media_type == "text/x-org"
    assert outline(doc) == [
        ((), ""),
        (("Setup",), "getting-ready"),
        (("Setup", "Calibration"), "calibration"),
        (("Results",), "results"),
        (("Results",), "results-1"),
    ]
    assert [s.text for s in doc.sections] == [
        "Notes kept while testing.",
        "Install the kit first.\n- one item, wrapped\n- two",
        "* an escaped star\nx = 1\n\nMeasure twice.",
        "| sample | value |\n| a | 1 |",
        "Again.",
    ]


def test_org_title_falls_back_to_the_first_headline_then_the_file_name() -> None:
    assert load_bytes(b"Intro.\n** Deep\n* Top\nText.\n", "n.org").title == "Top"
    assert load_bytes(b"Only text.\n", "dir/notes.org").title == "notes"


# --- AsciiDoc ---------------------------------------------------------------------------------

ADOC = """\
= User Guide
:product: Gizmo
:toc:

Welcome to *{product}*,{nbsp}the
_best_ tool.

[[install-it]]
== Installation

Run the https://example.org/get[installer] or see <<usage,the usage>>.

.Steps
. Download `gizmo.tar`
. Unpack it
+
then run it.

[source,python]
----
== not a title
print("hi")
----

=== On Linux

////
== hidden
////
// a comment
[cols="1,2"]
|===
|Name |Value
|a |one
|b
|two
|===

[#usage]
== Usage

include::secrets.adoc[]
image::diagram.png[A diagram]

[discrete]
== An aside

====
== Inside an example
Example text.
====
"""


def test_adoc_titles_are_sections() -> None:
    doc = load_bytes(ADOC.encode(), "guide.adoc")
    assert doc.title == "User Guide"
    assert doc.media_type == "text/x-asciidoc"
    assert outline(doc) == [
        (("User Guide",), "user-guide"),
        (("User Guide", "Installation"), "install-it"),
        (("User Guide", "Installation", "On Linux"), "on-linux"),
        (("User Guide", "Usage"), "usage"),
    ]
    assert [s.text for s in doc.sections] == [
        "Welcome to Gizmo,\u00a0the best tool.",
        "Run the installer or see the usage.\n\nSteps:\n\n. Download gizmo.tar\n. Unpack it"
        '\n\nthen run it.\n\n== not a title\nprint("hi")',
        "Name | Value\na | one\nb | two",
        "An aside\n\nInside an example\n\nExample text.",
    ]


def test_adoc_markdown_style_titles_and_the_file_name_title() -> None:
    doc = load_bytes(b"Lead text.\n\n## Part\n\nBody.\n", "dir/notes.asciidoc")
    assert doc.title == "notes"
    assert outline(doc) == [((), ""), (("Part",), "part")]


# --- the zip check itself ---------------------------------------------------------------------


def test_total_count_covers_every_part_whatever_its_name() -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as target:
        for n in range(3):
            target.writestr(f"media/image{n}.png", b"<a>" + b"<b/>" * 400 + b"</a>")
    assert refusal(lambda: check_total_nodes(archive.getvalue(), "m.pptx", 1_000)) == (
        "m.pptx has more than 1,000 XML elements in all its parts, over the limit for one document"
    )
    check_total_nodes(archive.getvalue(), "m.pptx", 1_203)
