"""A website crawled into the index: pages as documents, live citations, incremental re-crawls.

A real HTTP server on 127.0.0.1 (``tests/site_server.py``) serves a copy of part of the
docs-faq SQLite manual with a sitemap and robots.txt; the crawl goes through the real pipeline,
model and stores.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from site_server import Site, serve_site

from rag_chatbot.answering.chat import Question
from rag_chatbot.config import Settings
from rag_chatbot.container import Container, build_container
from rag_chatbot.crawl import CrawlOptions
from rag_chatbot.providers.embedders.base import Embedder

pytestmark = pytest.mark.integration

SQLITE = Path(__file__).resolve().parents[3] / "shared" / "eval" / "docs-faq" / "corpus" / "sqlite"
PAGES = (
    "autoinc.html",
    "lang_createtable.html",
    "datatype3.html",
    "different.html",
    "lang_vacuum.html",
    "pragma.html",
    "lang_transaction.html",
    "whentouse.html",
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    for name in PAGES:
        shutil.copy(SQLITE / name, folder / name)
    links = "".join(f'<li><a href="{name}">{name}</a></li>' for name in PAGES)
    (folder / "index.html").write_text(
        f"<html><head><title>SQLite pages</title></head><body><h1>Pages</h1><ul>{links}</ul>"
        "<p>The pages of this small copy of the SQLite documentation.</p></body></html>"
    )
    return folder


@pytest.fixture
def site(folder: Path) -> Iterator[Site]:
    with serve_site(folder) as server:
        yield server


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The test site is on loopback, which a crawl refuses unless the operator allows it.
    return settings.model_copy(update={"crawl_allowed_hosts": "127.0.0.1", "crawl_rate": 200.0})


@pytest.fixture
def container(settings: Settings, onnx_embedder: Embedder) -> Iterator[Container]:
    with closing(build_container(settings, embedder=onnx_embedder)) as built:
        yield built


def _options(**extra: object) -> CrawlOptions:
    return CrawlOptions(**extra)  # type: ignore[arg-type]


def _crawl(container: Container, url: str, **extra: object) -> dict[str, object]:
    site = container.sites.add(url, _options(**extra))
    return container.sites.run(site.id).as_dict()


def _sources(container: Container) -> set[str]:
    return {row.source for row in container.repository.list_documents()}


def test_a_crawled_site_is_indexed_once_and_cites_the_live_sections(
    container: Container, site: Site, folder: Path
) -> None:
    report = _crawl(container, site.url + "/")

    expected = {site.url + "/"} | {site.url_of(name) for name in PAGES}
    assert _sources(container) == expected
    assert report["added"] == len(expected) and report["failed"] == 0
    assert container.store.ids() == container.repository.all_chunk_ids()

    answer = container.chat.ask(Question("How do I create an AUTOINCREMENT column?")).answer
    assert answer.grounded and answer.citations
    for citation in answer.citations:
        page, _, anchor = citation.url.partition("#")
        assert citation.source == page and page in expected
        if anchor:  # the id the page itself gives the section
            served = (folder / (urlsplit(page).path.lstrip("/") or "index.html")).read_text(
                errors="replace"
            )
            assert re.search(rf"""(id|name)=["']{re.escape(anchor)}["']""", served), anchor


def test_a_recrawl_asks_only_whether_pages_changed_and_replaces_only_what_did(
    container: Container, site: Site
) -> None:
    _crawl(container, site.url + "/")
    chunks_before = container.repository.all_chunk_ids()
    site.reset()
    embedded_before = container.pipeline.embedding_seconds

    again = _crawl(container, site.url + "/")
    assert again["unchanged"] == len(PAGES) + 1 and again["added"] == again["updated"] == 0
    # An indexed page is skipped on the sitemap's word (lastmod) or asked "changed since?" (304);
    # the links to pages this copy lacks (404 the first time) are remembered, not asked again.
    # No body is sent but index.html's, the duplicate of "/" that no store remembers.
    pages = [hit for hit in site.hits if hit.path.endswith(".html") or hit.path == ""]
    assert [hit.path for hit in pages if hit.status != 304] in ([], ["index.html"])
    assert all(hit.etag for hit in pages if hit.status == 304)
    assert container.pipeline.embedding_seconds == embedded_before
    assert container.repository.all_chunk_ids() == chunks_before

    site.change(
        "different.html",
        b"<html><head><title>FAQ</title></head><body><h1 id='q'>Q</h1>"
        b"<p>SQLite keeps a whole database in one ordinary disk file.</p></body></html>",
    )
    site.remove("pragma.html")
    changed = _crawl(container, site.url + "/")
    assert changed["updated"] == 1 and changed["removed"] == 1
    assert changed["unchanged"] == len(PAGES) - 1
    assert site.url_of("pragma.html") not in _sources(container)
    assert container.store.ids() == container.repository.all_chunk_ids()


def test_a_sitemap_start_indexes_the_same_pages(container: Container, site: Site) -> None:
    report = _crawl(container, site.url_of("sitemap.xml"))
    assert report["failed"] == 0
    assert {site.url_of(name) for name in PAGES} <= _sources(container)


def test_crawled_pages_rank_as_the_same_files_from_disk(
    settings: Settings, onnx_embedder: Embedder, site: Site, folder: Path, tmp_path: Path
) -> None:
    questions = (
        "How do I create an AUTOINCREMENT field?",
        "What is the type affinity of a column?",
        "How do I reclaim unused space in the database file?",
        "When should I not use SQLite?",
    )
    rankings = []
    for name, crawled in (("disk", False), ("web", True)):
        own = settings.model_copy(update={"data_dir": tmp_path / name})
        with closing(build_container(own, embedder=onnx_embedder)) as built:
            if crawled:
                _crawl(built, site.url + "/")
            else:
                built.pipeline.ingest_paths([folder])
            rankings.append(
                [
                    [urlsplit(hit.chunk.source).path.lstrip("/") or "index.html" for hit in hits]
                    for hits in (built.retriever.retrieve(q, 5).hits for q in questions)
                ]
            )
    assert rankings[0] == rankings[1]


def test_a_dead_link_that_comes_alive_is_fetched_when_the_sitemap_lists_it(
    container: Container, site: Site
) -> None:
    _crawl(container, site.url + "/")
    dead = site.url_of("copyright.html")  # linked from the pages, absent from this copy
    assert dead not in _sources(container)
    site.reset()
    site.add(
        "copyright.html",
        b"<html><head><title>Copyright</title></head><body>"
        b"<h1>Copyright</h1><p>The SQLite source code is in the public domain.</p></body></html>",
    )
    report = _crawl(container, site.url + "/")
    assert report["added"] == 1 and dead in _sources(container)
    assert site.count("copyright.html") == 1
