"""Pages from documentation generators: their own title and headings, without site chrome.

The fixtures are unmodified generator output: Node.js's ``path.html`` as Debian ships it, and
pages built with Sphinx (alabaster), MkDocs Material, javadoc and Docusaurus (classic theme)
from small sample projects.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from rag_chatbot.domain import LoadedDocument
from rag_chatbot.ingestion.loaders import load_bytes, load_file

PAGES = Path(__file__).resolve().parents[2] / "fixtures" / "loaders" / "generators"
# Quoted or not: Docusaurus minifies its pages to `id=making-a-split`.
_ID = re.compile(r"""(?<![\w-])id=(?:"([^"]+)"|([^\s"'>]+))""")

# page -> (its own title, the site name that must not appear in heading paths)
GENERATED = {
    "node-path.html": ("Path", "Node.js v20.20.2 documentation"),
    "sphinx-page.html": ("Hive Inspection", "Beekeeping"),
    "mkdocs-material-page.html": ("Pruning Apple Trees", "Orchard Handbook"),
    "javadoc-page.html": ("Hive", "Skip navigation links"),
    "docusaurus-page.html": ("Swarm Prevention", "Apiary Notes"),
}
# Pages whose title heading has no id: its section is anchored at a slug of the heading.
UNANCHORED_TITLES = {
    "javadoc-page.html": ("Class Hive",),
    "docusaurus-page.html": ("Swarm Prevention",),
}


def load(name: str) -> LoadedDocument:
    return load_file(PAGES / name)


def page_ids(name: str) -> set[str]:
    markup = (PAGES / name).read_text(encoding="utf-8")
    return {html.unescape(quoted or bare) for quoted, bare in _ID.findall(markup)}


def text_of(doc: LoadedDocument) -> str:
    return "\n".join(s.text for s in doc.sections)


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_title_and_heading_paths_are_the_pages_own(name: str) -> None:
    title, site = GENERATED[name]
    doc = load(name)
    assert doc.title == title
    headings = [h for s in doc.sections for h in s.heading_path]
    assert headings
    for heading in headings:
        assert site.casefold() not in heading.casefold()
        assert "¶" not in heading
        assert "\u200b" not in heading
        assert not heading.endswith("#")
        assert heading.casefold() != "copy"


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_anchors_are_the_pages_heading_ids(name: str) -> None:
    doc = load(name)
    ids = page_ids(name)
    headed = [s for s in doc.sections if s.heading_path]
    # Every heading but an id-less page title links to an id the page has.
    untitled = UNANCHORED_TITLES.get(name)
    assert all(s.anchor in ids for s in headed if s.heading_path != untitled)


def test_node_sections_start_at_the_module_heading() -> None:
    doc = load("node-path.html")
    extname = next(s for s in doc.sections if s.heading_path == ("Path", "path.extname(path)"))
    assert extname.anchor == "pathextnamepath"  # the id on the heading's <a class="mark">
    assert doc.sections[0].heading_path == ("Path",)
    assert doc.sections[0].anchor == "path"
    assert "Table of contents" not in text_of(doc)


def test_node_code_blocks_keep_their_code_without_copy_buttons() -> None:
    doc = load("node-path.html")
    lines = text_of(doc).splitlines()
    assert not any(line.rstrip().endswith("copy") for line in lines)
    # CommonJS and ES module versions of one example are two lines, not one.
    assert "const path = require('node:path');" in lines
    assert "import path from 'node:path';" in lines
    extname = next(s for s in doc.sections if s.heading_path == ("Path", "path.extname(path)"))
    assert "path.extname('index.html');\n// Returns: '.html'" in extname.text


def test_sphinx_code_has_no_line_numbers_and_sidebar_is_dropped() -> None:
    doc = load("sphinx-page.html")
    opening = next(s for s in doc.sections if s.heading_path[-1:] == ("Opening the hive",))
    assert opening.anchor == "opening-the-hive"
    assert "def frames_to_check(hive):\n    return [f for f in hive.frames" in opening.text
    everything = text_of(doc)
    for chrome in ("Navigation", "Related Topics", "Powered by", "Page source"):
        assert chrome not in everything


def test_mkdocs_material_keeps_code_and_drops_header_nav_and_footer() -> None:
    doc = load("mkdocs-material-page.html")
    assert [s.heading_path for s in doc.sections] == [
        ("Pruning Apple Trees",),
        ("Pruning Apple Trees", "Tools"),
        ("Pruning Apple Trees", "Tools", "Cleaning the blades"),
        ("Pruning Apple Trees", "Cuts"),
    ]
    tools = doc.sections[1]
    code = "def needs_pruning(branch):\n    return branch.crosses_another or branch.is_dead"
    assert tools.text.endswith(code)
    everything = text_of(doc)
    for chrome in ("Table of contents", "Initializing search", "Made with", "Skip to content"):
        assert chrome not in everything


def test_javadoc_members_are_sections_anchored_at_their_ids() -> None:
    doc = load("javadoc-page.html")
    method = next(s for s in doc.sections if s.heading_path[-1:] == ("needsInspection",))
    assert method.heading_path == ("Class Hive", "Method Details", "needsInspection")
    assert method.anchor == "needsInspection(int)"
    assert "if (hive.needsInspection(10)) {" in method.text
    assert "SEARCH:" not in text_of(doc)


def test_docusaurus_code_keeps_its_lines_and_drops_breadcrumbs_pager_and_toc() -> None:
    doc = load("docusaurus-page.html")
    assert [(s.heading_path, s.anchor) for s in doc.sections] == [
        (("Swarm Prevention",), "swarm-prevention"),
        (("Swarm Prevention", "Signs of swarming"), "signs-of-swarming"),
        (("Swarm Prevention", "Signs of swarming", "Counting queen cells"), "counting-queen-cells"),
        (("Swarm Prevention", "Making a split"), "making-a-split"),
    ]
    # Prism puts each line in its own element, ended by a <br>.
    code = "def needs_split(frame):\n    return frame.queen_cells > 0 and frame.brood_is_crowded"
    assert doc.sections[2].text.endswith(code)
    everything = text_of(doc)
    for chrome in ("Skip to main content", "On this page", "Edit this page", "Previous", "Next"):
        assert chrome not in everything
    assert "Tutorial Intro" not in everything  # the sidebar and the pager's link
    assert "Counting queen cells" not in everything  # a heading: in text only from the toc
    assert "The British Beekeepers Association publishes" in everything


# --- the rules on markup from generators without a fixture ----------------------------------


def test_docusaurus_hash_links_and_copy_buttons_are_dropped() -> None:
    # Docusaurus adds the copy button in the browser: the built page has none.
    markup = """<html><head><title>Install | Acme Docs</title></head><body>
    <nav class="navbar"><a href="/">Acme Docs</a></nav>
    <main><article><div class="markdown"><header><h1>Install</h1></header>
    <h2 class="anchor" id="with-npm">With npm<a href="#with-npm" class="hash-link"
      aria-label="Direct link to With npm">\u200b</a></h2>
    <div class="codeBlockContainer"><pre><code>npm install acme</code></pre>
    <button type="button" aria-label="Copy code to clipboard" title="Copy">Copy</button></div>
    </div></article></main></body></html>"""
    doc = load_bytes(markup.encode(), "install.html")
    assert doc.title == "Install"
    assert [(s.heading_path, s.anchor, s.text) for s in doc.sections] == [
        (("Install", "With npm"), "with-npm", "npm install acme")
    ]


def test_sphinx_source_links_and_line_numbers_are_dropped() -> None:
    markup = b"""<div role="main"><h1>API</h1>
    <dl><dt id="m.f">m.f(x)<a class="reference internal" href="_modules/m.html#f">
    <span class="viewcode-link"><span class="pre">[source]</span></span></a>
    <a class="headerlink" href="#m.f" title="Link to this definition">\xc2\xb6</a></dt>
    <dd><p>Does f.</p></dd></dl>
    <div class="highlight"><pre><span class="linenos">1</span>x = 1
<span class="linenos">2</span>y = 2
</pre></div></div>"""
    doc = load_bytes(markup, "api.html")
    assert doc.sections[0].text == "m.f(x)\n\nDoes f.\n\nx = 1\ny = 2"


def test_trailing_signs_are_cut_but_a_sharp_in_a_name_is_kept() -> None:
    markup = "<main><h1>Guide \u00b6</h1><p>a</p><h2>C#</h2><p>b</p><h2>Step #</h2><p>c</p></main>"
    doc = load_bytes(markup.encode(), "guide.html")
    assert [s.heading_path for s in doc.sections] == [
        ("Guide",),
        ("Guide", "C#"),
        ("Guide", "Step"),
    ]


def test_site_banner_heading_is_not_the_page_title() -> None:
    markup = b"""<html><head><title>Widgets</title></head><body>
    <header><h1>Acme Handbook</h1><ul><li><a href="/">Home</a></li></ul></header>
    <div class="page"><h1 id="widgets">Widgets</h1><p>All about widgets.</p></div>
    </body></html>"""
    doc = load_bytes(markup, "widgets.html")
    assert [(s.heading_path, s.anchor) for s in doc.sections] == [(("Widgets",), "widgets")]
    assert "Acme Handbook" not in text_of(doc)


def test_banner_heading_of_a_page_without_content_element_does_not_pick_the_title() -> None:
    markup = b"""<html><head><title>Path | Node.js Docs</title></head><body>
    <header><h1>Node.js Docs</h1></header><h2 id="path">Path</h2><p>Paths.</p></body></html>"""
    assert load_bytes(markup, "path.html").title == "Path"


def test_a_header_holding_the_only_heading_of_a_plain_page_is_kept() -> None:
    markup = b"<body><header><h1>Notes</h1></header><p>Plain page text.</p></body>"
    doc = load_bytes(markup, "notes.html")
    assert doc.title == "Notes"
    assert doc.sections[0].heading_path == ("Notes",)


@pytest.mark.parametrize(
    ("title", "h1", "expected"),
    [
        ("Path | Node.js v20.20.2 Documentation", "", "Path"),
        ("Hive Inspection \u2014 Beekeeping  documentation", "Hive Inspection", "Hive Inspection"),
        ("Pruning - MkDocs", "Pruning", "Pruning"),
        ("Pros - Cons", "Pros - Cons", "Pros - Cons"),
        ("SQLite Autoincrement", "1. Summary", "SQLite Autoincrement"),
        ("Chapter 1 - The Start", "Chapter 1: The Start", "Chapter 1 - The Start"),
    ],
)
def test_site_name_is_cut_from_the_title(title: str, h1: str, expected: str) -> None:
    heading = f"<h1>{h1}</h1>" if h1 else "<h2>x</h2>"
    markup = f"<html><head><title>{title}</title></head><body><main>{heading}<p>t</p></main>"
    assert load_bytes(markup.encode(), "t.html").title == expected
