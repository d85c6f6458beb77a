"""Anchors and page URLs checked against a site that MkDocs itself builds.

The sources in ``tests/data/site_formats/mkdocs`` are built with ``mkdocs build`` (default
theme and Markdown extensions, ``use_directory_urls`` on); every anchor our Markdown loader
gives with MkDocs' heading rule must be an ``id`` in the built page, and ``published_url``
must name the built page. Our default rule (GitHub's) is shown to differ where MkDocs folds
accents, merges separators and numbers repeats with ``_1``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from rag_chatbot.ingestion.loaders.markdown import MarkdownLoader
from rag_chatbot.ingestion.site_urls import published_url

SOURCES = Path(__file__).resolve().parents[2] / "data" / "site_formats" / "mkdocs"
BASE = "https://docs.example.org/handbook"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocs", reason="mkdocs (the test extra) builds the site")
    project = tmp_path_factory.mktemp("mkdocs")
    shutil.copytree(SOURCES, project, dirs_exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--quiet", "--strict", "-d", "site"],
        cwd=project,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return project / "site"


def pages() -> list[str]:
    return sorted(str(path.relative_to(SOURCES)) for path in SOURCES.glob("docs/**/*.md"))


def built_page(site: Path, source: str) -> Path:
    """The HTML file ``published_url`` points at, inside the built site."""
    url = published_url(source, base_url=BASE, style="mkdocs")
    assert url.startswith(BASE + "/")
    path = site / url.removeprefix(BASE + "/")
    return path / "index.html" if url.endswith("/") else path


def heading_ids(page: Path) -> list[str]:
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    return [str(h["id"]) for h in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6"], id=True)]


def all_ids(page: Path) -> set[str]:
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    return {str(tag["id"]) for tag in soup.find_all(id=True)}


@pytest.mark.parametrize("source", pages())
def test_published_url_is_the_page_mkdocs_built(site: Path, source: str) -> None:
    assert built_page(site, source).is_file(), sorted(p.name for p in site.rglob("*.html"))


@pytest.mark.parametrize("source", pages())
def test_every_mkdocs_style_anchor_is_an_id_of_the_built_page(site: Path, source: str) -> None:
    document = MarkdownLoader("mkdocs").load((SOURCES / source).read_bytes(), source)
    anchors = [s.anchor for s in document.sections if s.anchor]
    assert anchors
    assert set(anchors) <= all_ids(built_page(site, source))
    # In order too: our sections are the page's headings that have text under them.
    page_ids = heading_ids(built_page(site, source))
    assert [a for a in page_ids if a in anchors] == anchors


def test_the_default_rule_differs_from_mkdocs_on_punctuation_accents_and_repeats(
    site: Path,
) -> None:
    source = "docs/guide/setup.md"
    document = MarkdownLoader().load((SOURCES / source).read_bytes(), source)
    ids = all_ids(built_page(site, source))
    missing = [s.anchor for s in document.sections if s.anchor not in ids]
    assert missing == [
        "install--configure",
        "café-crème",
        "install--configure-1",
        "c--c----notes",
        "section",
        "section-1",
        "step-1",
    ]
