"""reStructuredText: sections anchored by the ids docutils writes into its own HTML output.

Each file is also published with docutils' HTML writer (``publish_string``, the standard
parser, nothing of ours), and every anchor the loader gives must be an ``id`` in that HTML:
with docutils' own settings for the loader's ``auto_id_prefix="%"``, and with Sphinx's id
settings for the default.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from docutils import nodes
from docutils.core import publish_doctree, publish_string
from docutils.writers import html5_polyglot

from rag_chatbot.domain import LoadedDocument
from rag_chatbot.errors import IngestionError, UnsupportedFormat
from rag_chatbot.ingestion.loaders import load_bytes, load_file
from rag_chatbot.ingestion.loaders.rst import MAX_LINE_CHARS, RstLoader

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "site_formats"
QUIET = {"report_level": 5, "halt_level": 5, "warning_stream": False, "_disable_config": True}
SPHINX_IDS = {"auto_id_prefix": "id", "doctitle_xform": False}

PLAIN = """\
=================
The Lighthouse
=================

Opening words.

Keeping the lamp
================

Trim the wick daily.

.. _storm-procedure:

Storms
------

Close the shutters.

Keeping the lamp
================

Said twice on purpose.

Café au lait & *more*
=====================

Brewed at dawn.

2024
====

A title of digits only.

日本語
======

No Latin letters.
"""


def docutils_html_ids(source: str, **settings: Any) -> set[str]:
    """Every id in docutils' own HTML output of ``source`` (standard parser)."""
    html = publish_string(
        source, writer=html5_polyglot.Writer(), settings_overrides={**QUIET, **settings}
    ).decode("utf-8")
    return set(re.findall(r'\bid="([^"]+)"', html))


def anchors(doc: LoadedDocument) -> list[str]:
    return [s.anchor for s in doc.sections if s.heading_path]


def test_plain_docutils_ids() -> None:
    doc = RstLoader(auto_id_prefix="%").load(PLAIN.encode(), "plain.rst")
    assert set(anchors(doc)) <= docutils_html_ids(PLAIN)
    assert anchors(doc)[:5] == [
        "the-lighthouse",
        "keeping-the-lamp",
        "storm-procedure",  # the label, not "storms"
        "keeping-the-lamp-1",  # docutils numbers a repeated title's id
        "cafe-au-lait-more",
    ]


def test_sphinx_ids_are_the_default() -> None:
    doc = load_bytes(PLAIN.encode(), "plain.rst")
    assert set(anchors(doc)) <= docutils_html_ids(PLAIN, **SPHINX_IDS)
    assert anchors(doc)[3] == "id1"  # Sphinx's auto_id_prefix for the repeated title
    assert doc.title == "The Lighthouse"
    assert [s.heading_path for s in doc.sections][:3] == [
        ("The Lighthouse",),
        ("The Lighthouse", "Keeping the lamp"),
        ("The Lighthouse", "Keeping the lamp", "Storms"),
    ]


@pytest.fixture(scope="module")
def sphinx_page() -> LoadedDocument:
    return load_file(FIXTURES / "sphinx_page.rst")


def test_sphinx_page_anchors_are_ids_docutils_writes(sphinx_page: LoadedDocument) -> None:
    source = (FIXTURES / "sphinx_page.rst").read_text(encoding="utf-8")
    assert anchors(sphinx_page) == [
        "quickstart",
        "installing",
        "configuring",
        "sub-section-timing-power",
    ]
    assert set(anchors(sphinx_page)) <= docutils_html_ids(source, **SPHINX_IDS)


def test_sphinx_roles_and_directives_keep_their_text(sphinx_page: LoadedDocument) -> None:
    by_anchor = {s.anchor: s.text for s in sphinx_page.sections}
    assert by_anchor["quickstart"].split("\n\n") == [
        "This page gets you going. See Configuring the lamp and the tutorial, or call "
        "switch_on() and lighthouse.Keeper.",
        "New in version 2.1: The --dry-run flag.",
    ]
    assert by_anchor["installing"].split("\n\n") == [
        "Install the package with pip:",
        "$ pip install lighthouse",
        "Note: The package needs Python 3.11.",
        "- Download the wheel.\n- Check its hash with sha256sum.\n"
        "  See also RFC 6234 describes SHA-256.",
    ]
    assert by_anchor["configuring"].split("\n\n") == [
        "switch_on(brightness=100)",
        "Switch the lamp on at the given brightness.",
        "Settings",
        "Name | Meaning\nbrightness | Percent of full power.",
        "Deprecated since version 3.0: Use dim() instead of brightness=0.",
    ]
    assert by_anchor["sub-section-timing-power"].split("\n\n") == [
        "The lamp turns every 10 s [1].",
        "[1] Measured at sea level.",
        "Shown in the HTML build only.",
    ]


def test_no_error_message_build_instruction_or_inserted_file_reaches_the_text(
    sphinx_page: LoadedDocument,
) -> None:
    everything = "\n".join(s.text for s in sphinx_page.sections)
    for residue in ("Unknown", "ERROR", "directive", "toctree", "maxdepth", "orphan"):
        assert residue not in everything
    for residue in ("root:", "passwd", "<script>", "alert", "autoclass", ":members:"):
        assert residue not in everything


def test_docutils_itself_is_left_unchanged(sphinx_page: LoadedDocument) -> None:
    tree = publish_doctree(":ref:`x`\n\n.. toctree::\n", settings_overrides=QUIET)
    messages = [m.astext() for m in tree.findall(nodes.system_message)]
    assert any('Unknown interpreted text role "ref"' in m for m in messages)
    assert any('Unknown directive type "toctree"' in m for m in messages)


def test_title_directive_names_the_document() -> None:
    doc = load_bytes(b".. title:: Proper Name\n\nHeading\n=======\n\nText.\n", "x.rst")
    assert doc.title == "Proper Name"


def test_text_without_sections_is_one_lead_section() -> None:
    doc = load_bytes(b"Just a paragraph\nover two lines.\n", "notes.rst")
    assert doc.title == "notes"
    assert [(s.heading_path, s.anchor, s.text) for s in doc.sections] == [
        ((), "", "Just a paragraph over two lines.")
    ]


def test_a_line_docutils_would_not_read_is_a_one_line_error() -> None:
    data = b"Title\n=====\n\n" + b"x" * (MAX_LINE_CHARS + 1) + b"\n"
    with pytest.raises(IngestionError) as caught:
        load_bytes(data, "long.rst")
    assert str(caught.value) == (
        f"long.rst: line 4 is longer than {MAX_LINE_CHARS} characters, more than docutils reads"
    )


def test_binary_content_named_rst_is_refused() -> None:
    with pytest.raises(UnsupportedFormat, match=r"^noise\.rst: binary content"):
        load_bytes(os.urandom(50_000), "noise.rst")
