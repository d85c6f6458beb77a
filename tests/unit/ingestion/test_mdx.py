"""MDX (Docusaurus) pages: the Markdown they hold, with Docusaurus's front matter and anchors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag_chatbot.domain import LoadedDocument
from rag_chatbot.errors import UnsupportedFormat
from rag_chatbot.ingestion.loaders import load_bytes, load_file
from rag_chatbot.ingestion.loaders.mdx import mdx_to_markdown
from rag_chatbot.ingestion.site_urls import published_url

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "site_formats"


@pytest.fixture(scope="module")
def guide() -> LoadedDocument:
    return load_file(FIXTURES / "guide.mdx")


def text_of(doc: LoadedDocument, anchor: str) -> str:
    return next(s.text for s in doc.sections if s.anchor == anchor)


def test_front_matter_gives_title_and_the_page_slug(guide: LoadedDocument) -> None:
    assert guide.title == "Installing Things"
    assert guide.media_type == "text/mdx"
    assert guide.slug == "install-guide"  # the front matter id: no slug given
    url = published_url(
        "docs/guide.mdx", base_url="https://x.org", style="docusaurus", slug=guide.slug
    )
    assert url == "https://x.org/docs/install-guide"


def test_headings_get_docusaurus_anchors(guide: LoadedDocument) -> None:
    assert [(s.heading_path[-1], s.anchor) for s in guide.sections] == [
        ("Installing Things", "installing-things"),
        ("Pick a package manager", "managers"),
        ("What's new in v2.0?", "whats-new-in-v20"),
        # The explicit id above is not counted, as in Docusaurus.
        ("Pick a package manager", "pick-a-package-manager"),
        ("Café & crème ½", "café--crème-"),
    ]


def test_imports_exports_expressions_and_comments_leave_no_text(guide: LoadedDocument) -> None:
    everything = "\n".join(s.text for s in guide.sections)
    for residue in ("import", "export", "@theme", "backgroundColor", "Editors", "groupId", "{"):
        assert residue not in everything


def test_components_keep_their_text_and_tab_labels(guide: LoadedDocument) -> None:
    assert text_of(guide, "installing-things") == (
        "Read this first: installs take a minute, and <Tabs> in backticks is code."
    )
    managers = text_of(guide, "managers").split("\n\n")
    assert managers[:4] == [
        "npm",
        "Run the install in the project folder.",
        "npm install <Tabs> --save",  # code keeps what looks like JSX
        "Yarn Yarn adds it with one command.",
    ]


def test_admonitions_are_text_with_their_kind_and_title(guide: LoadedDocument) -> None:
    managers = text_of(guide, "managers").split("\n\n")
    assert managers[4:] == [
        "Tip: Pro tip",
        "Commit the lockfile.",
        "Warning: Careful",
        "Do not delete node_modules while the server runs.",
    ]


def test_html_elements_keep_their_text_and_autolinks_their_address(guide: LoadedDocument) -> None:
    assert text_of(guide, "whats-new-in-v20") == "Visit https://example.com/changes for the list."
    assert text_of(guide, "café--crème-") == (
        "Accents stay, symbols go.\n\nMore details\n\nHidden until opened."
    )


def test_title_falls_back_to_sidebar_label_then_file_name() -> None:
    assert load_bytes(b"---\nsidebar_label: Short\n---\n\nText.\n", "a.mdx").title == "Short"
    assert load_bytes(b"Text only.\n", "dir/page-name.mdx").title == "page-name"
    assert load_bytes(b"---\nslug: /x\n---\n# Heading\n", "a.mdx").title == "Heading"


def test_code_fences_are_left_exactly_as_written() -> None:
    source = "Before.\n\n~~~jsx\nimport X from 'y';\n<Tabs>{value}</Tabs>\n:::note\n~~~\n\nAfter.\n"
    assert mdx_to_markdown(source) == source.rstrip("\n") + "\n"


def test_html_comments_are_dropped_even_unclosed() -> None:
    doc = load_bytes(
        b"Kept <!-- a\nnote --> text.\n\nMore.\n\n<!-- never closed\n\nGone.\n", "a.mdx"
    )
    assert doc.sections[0].text == "Kept text.\n\nMore."


def test_a_paragraph_starting_with_the_word_import_is_text() -> None:
    doc = load_bytes(b"import the data first, then export it.\n", "a.mdx")
    assert doc.sections[0].text == "import the data first, then export it."


def test_indented_component_children_are_not_code() -> None:
    doc = load_bytes(b"<Card>\n        Deeply indented text.\n</Card>\n", "a.mdx")
    assert doc.sections[0].text == "Deeply indented text."


def test_markdown_files_keep_their_own_anchors() -> None:
    doc = load_bytes(b"## Pick a manager {#managers}\n\nText.\n", "a.md")
    assert doc.sections[0].anchor == "pick-a-manager-managers"


def test_binary_content_named_mdx_is_refused() -> None:
    with pytest.raises(UnsupportedFormat, match=r"^noise\.mdx: binary content"):
        load_bytes(os.urandom(50_000), "noise.mdx")
