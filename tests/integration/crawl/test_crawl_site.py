"""Crawling a real manual served over HTTP on 127.0.0.1: reach, robots.txt, re-crawls.

The site is pages of SQLite's documentation (their links to pages not copied answer 404,
as dead links do), a sitemap, a robots.txt that disallows /private/, and validators.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest
from conftest import SQLITE, subset_names
from crawling import by_url, crawl, known_from, options
from site_server import Site, serve_site

from rag_chatbot.crawl import Crawler
from rag_chatbot.errors import IngestionError

pytestmark = pytest.mark.integration

CHANGED, REMOVED = subset_names()[3], subset_names()[5]


def add_hub(site: Site) -> None:
    """A page linking to the pages the re-crawl tests change and remove."""
    links = "".join(f'<a href="{name}">{name}</a>' for name in (CHANGED, REMOVED))
    site.add("hub.html", f"<html><title>Hub</title><body>{links}</body></html>")


def served_pages(site: Site) -> set[str]:
    return {site.url_of(path) for path in site.pages if not path.startswith("private/")}


def test_every_page_is_reached_once_and_robots_txt_is_honoured(site: Site, subset: Path) -> None:
    pages, summary = crawl(site.url + "/")
    found = by_url(pages)  # asserts that no URL is reported twice
    kept = {url for url, page in found.items() if page.status in ("fetched", "duplicate")}
    assert served_pages(site) <= kept | {site.url + "/"}
    # "/" serves index.html: the second one read is the duplicate of the first.
    pair = {found[site.url + "/"].status, found[site.url_of("index.html")].status}
    assert pair == {"fetched", "duplicate"}
    secret = found[site.url_of("private/secret.html")]
    assert (secret.status, secret.reason) == ("skipped", "robots.txt disallows it")
    assert site.count("private/secret.html") == 0
    assert max(Counter(hit.path for hit in site.hits).values()) == 1  # nothing asked twice
    page = found[site.url_of(CHANGED)]
    body = (subset / CHANGED).read_bytes()
    assert (page.status, page.content, page.extension, page.content_type) == (
        "fetched",
        body,
        ".html",
        "text/html",
    )
    assert page.content_hash == hashlib.sha256(body).hexdigest()
    assert page.etag == site.pages[CHANGED].etag and page.last_modified
    assert page.fetched_at is not None
    assert all(link.startswith(site.url + "/") for link in page.links)
    gone = [p for p in pages if p.status == "gone"]
    assert gone and all(p.reason == "HTTP 404 Not Found" for p in gone)
    assert summary.complete and summary.requests == len(site.hits)
    assert summary.fetched == sum(p.status == "fetched" for p in pages)
    assert summary.seen == set(found)


def test_a_recrawl_asks_only_conditionally_and_finds_everything_unchanged(site: Site) -> None:
    site.lastmod = False  # no sitemap dates: every known page is asked for
    first, _ = crawl(site.url + "/")
    known = known_from(first)
    site.reset()
    second, summary = crawl(site.url + "/", known=known)
    statuses = {page.url: page.status for page in second if page.url in known}
    assert statuses == dict.fromkeys(known, "unchanged")
    assert not any(page.status == "fetched" for page in second)
    for path in [*site.pages, ""]:
        if site.url_of(path) in known:
            assert site.count(path) == 1 and site.conditional(path) == 1, path
            assert [h.status for h in site.hits if h.path == path] == [304]
    assert summary.complete and summary.unchanged == len(known)


def test_a_changed_page_is_fetched_and_a_removed_one_is_gone(site: Site) -> None:
    add_hub(site)
    site.lastmod = False
    known = known_from(crawl(site.url + "/")[0])
    new_body = (SQLITE / "whynotgit.html").read_bytes()
    site.change(CHANGED, new_body)
    site.remove(REMOVED)
    pages, summary = crawl(site.url + "/", known=known)
    found = by_url(pages)
    changed, removed = found[site.url_of(CHANGED)], found[site.url_of(REMOVED)]
    assert (changed.status, changed.content) == ("fetched", new_body)
    assert (removed.status, removed.reason) == ("gone", "HTTP 404 Not Found")
    others = {url: page.status for url, page in found.items() if url in known}
    del others[changed.url], others[removed.url]
    assert set(others.values()) == {"unchanged"}
    assert summary.fetched == 1 and summary.complete


def test_sitemap_dates_spare_the_requests_for_known_pages(site: Site) -> None:
    first, _ = crawl(site.url + "/")
    known = known_from(first)
    site.change(CHANGED, (SQLITE / "whynotgit.html").read_bytes())
    site.reset()
    pages, _ = crawl(site.url + "/", known=known)
    found = by_url(pages)
    assert found[site.url_of(CHANGED)].status == "fetched"
    assert site.conditional(CHANGED) == 1  # still conditional: the server decides
    listed = [path for path in site.pages if site.url_of(path) in known and path != CHANGED]
    assert listed and all(found[site.url_of(p)].status == "unchanged" for p in listed)
    assert all(site.count(path) == 0 for path in listed)


def test_a_sitemap_start_crawls_the_pages_it_lists(site: Site) -> None:
    # The index names a gzip sitemap and a plain one, half of the pages each.
    pages, summary = crawl(site.url_of("sitemap_index.xml"))
    found = by_url(pages)
    assert served_pages(site) <= {u for u, p in found.items() if p.status != "gone"}
    assert found[site.url_of("private/secret.html")].status == "skipped"
    assert site.count("sitemaps/part-1.xml.gz") == 1 and site.count("sitemaps/part-2.xml") == 1
    assert site.count("sitemap.xml") == 0  # robots.txt's sitemap is not the one asked for
    assert summary.complete


def test_a_sitemap_that_cannot_be_read_stops_the_crawl(site: Site) -> None:
    with pytest.raises(IngestionError, match=r"sitemap .*/nothing\.xml: answered HTTP 404"):
        crawl(site.url_of("nothing.xml"))


def test_include_and_exclude_globs_choose_the_pages(site: Site) -> None:
    wanted = {name for name in subset_names() if name.startswith(("c", "f"))}
    pages, _ = crawl(site.url + "/", options(include=("/c*", "/f*"), exclude=("*/cli.html",)))
    fetched = {p.url for p in pages if p.status == "fetched"}
    assert fetched == {site.url_of(name) for name in wanted - {"cli.html"}}
    start = by_url(pages)[site.url + "/"]
    assert start.status == "skipped" and "include/exclude" in start.reason
    assert all(hit.path.startswith(("c", "f")) for hit in site.hits if hit.path.endswith("html"))


def test_max_pages_stops_the_crawl_incomplete(site: Site) -> None:
    pages, summary = crawl(site.url + "/", options(max_pages=5))
    assert len(pages) == 5 and not summary.complete
    assert summary.stopped == "stopped at max_pages (5)"


def test_depth_zero_reads_the_start_and_the_sitemap_only(site: Site) -> None:
    site.add("orphan.html", "<html><body>linked from the start only</body></html>")
    site.robots = None  # no robots.txt: no sitemap either
    pages, summary = crawl(site.url + "/", options(max_depth=0))
    assert [p.url for p in pages] == [site.url + "/"] and summary.complete


def test_leaving_early_stops_the_crawl(site: Site) -> None:
    crawler = Crawler(site.url + "/", options(concurrency=2))
    for _ in crawler.pages():
        break
    assert not crawler.summary.complete
    requests = len(site.hits)
    assert requests < 40  # the crawl stopped; it did not finish in the background


def test_the_whole_manual(tmp_path: Path) -> None:
    with serve_site(SQLITE) as site:
        pages, summary = crawl(site.url + "/", options(concurrency=4))
    found = by_url(pages)
    files = {path.name for path in SQLITE.glob("*.html")}
    kept = {url for url, page in found.items() if page.status in ("fetched", "duplicate")}
    assert {site.url_of(name) for name in files} <= kept
    duplicates = {url: p.reason for url, p in found.items() if p.status == "duplicate"}
    assert len(duplicates) == 2  # index.html is "/"; fileformat.html is fileformat2.html
    assert max(Counter(hit.path for hit in site.hits).values()) == 1
    assert summary.complete and summary.fetched == len(files) + 1 - 2
