"""Files of a published site cite their live pages: SITE_URL and SITE_STYLE through a real ingest.

The folder is an MkDocs project (``tests/data/site_formats/mkdocs``) built by ``mkdocs build``;
after an ingest with ``SITE_STYLE=mkdocs``, every passage's citation URL must name a page MkDocs
built and a heading ``id`` in that page.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from rag_chatbot.config import Settings
from rag_chatbot.container import build_container
from rag_chatbot.providers.embedders.base import Embedder

pytestmark = pytest.mark.integration

SOURCES = Path(__file__).resolve().parents[1] / "data" / "site_formats" / "mkdocs"
BASE = "https://docs.example.org/handbook"


def _built(tmp_path: Path) -> Path:
    pytest.importorskip("mkdocs", reason="mkdocs (the test extra) builds the site")
    project = tmp_path / "project"
    shutil.copytree(SOURCES, project)
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--quiet", "--strict", "-d", "site"],
        cwd=project,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return project


def test_citations_of_a_published_folder_open_the_built_pages(
    settings: Settings, onnx_embedder: Embedder, tmp_path: Path
) -> None:
    project = _built(tmp_path)
    published = settings.model_copy(update={"site_url": BASE, "site_style": "mkdocs"})
    with closing(build_container(published, embedder=onnx_embedder)) as container:
        report = container.pipeline.ingest_paths([project / "docs"])
        assert report.failed == [] and report.added >= 4
        chunks = container.store.chunks(container.store.ids()).values()

    urls = {chunk.url for chunk in chunks}
    assert urls and all(url.startswith(BASE + "/") for url in urls)
    for url in urls:
        page, _, anchor = url.removeprefix(BASE + "/").partition("#")
        built = project / "site" / page / "index.html" if not page.endswith(".html") else None
        assert built is not None and built.is_file(), url
        if anchor:
            ids = {tag["id"] for tag in BeautifulSoup(built.read_text(), "lxml").select("[id]")}
            assert anchor in ids, url


def test_without_site_url_citations_open_the_reader(
    settings: Settings, onnx_embedder: Embedder, tmp_path: Path
) -> None:
    with closing(build_container(settings, embedder=onnx_embedder)) as container:
        container.pipeline.ingest_paths([SOURCES / "docs"])
        chunks = container.store.chunks(container.store.ids()).values()
    assert chunks and all(chunk.url.startswith("/read/") for chunk in chunks)
