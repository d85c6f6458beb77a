"""What a page's own markup and the start URL's redirects decide, and how far a crawl runs ahead."""

from __future__ import annotations

import dataclasses
import time

import pytest
from crawling import by_url, crawl, known_from, options
from site_server import serve_site

from rag_chatbot.crawl import Crawler
from rag_chatbot.crawl.crawler import AHEAD_PAGES

pytestmark = pytest.mark.integration


def test_canonical_and_noindex_are_honoured() -> None:
    with serve_site() as site:
        site.robots = None
        site.add("index.html", '<a href="print.html">p</a><a href="hidden.html">h</a>')
        canonical = '<link rel="canonical" href="/article.html"><p>the article</p>'
        site.add("print.html", canonical + '<a href="article.html">again</a>')
        site.add("article.html", "<p>the article, as served at its own URL</p>")
        site.add("hidden.html", '<meta name="robots" content="noindex"><a href="deep.html">d</a>')
        site.add("deep.html", "<p>only linked from a noindex page</p>")
        found = by_url(crawl(site.url + "/")[0])
        assert site.count("article.html") == 0  # print.html said it is article.html
    article = found[site.url_of("article.html")]
    assert article.status == "fetched" and article.content is not None
    assert b"the article" in article.content
    assert site.url_of("print.html") not in found
    hidden = found[site.url_of("hidden.html")]
    assert hidden.status == "skipped" and "noindex" in hidden.reason
    assert found[site.url_of("deep.html")].status == "fetched"  # its links were followed


def test_a_body_equal_to_the_known_one_is_unchanged() -> None:
    # A server that ignores validators (or changed its ETags) sends the page again: the hash
    # says it is the same, so it is not handed over for indexing a second time.
    with serve_site() as site:
        site.robots = None
        site.add("index.html", '<a href="a.html">a</a>')
        site.add("a.html", "<p>same as ever</p>")
        known = known_from(crawl(site.url + "/")[0])
        url = site.url_of("a.html")
        known[url] = dataclasses.replace(known[url], etag='"stale"', last_modified=None)
        found = by_url(crawl(site.url + "/", known=known)[0])
        assert [hit.status for hit in site.hits if hit.path == "a.html"] == [200, 200]
    again = found[url]
    assert (again.status, again.content) == ("unchanged", None)
    assert again.etag == site.pages["a.html"].etag  # the new validator, to keep


def test_a_start_url_that_redirects_moves_the_scope() -> None:
    with serve_site() as site:
        site.robots = None
        site.redirect("start/", "docs/")
        site.add("docs/index.html", '<a href="a.html">a</a><a href="/other.html">o</a>')
        site.add("docs/a.html", "<p>a</p>")
        site.add("other.html", "<p>outside the docs</p>")
        pages, _ = crawl(site.url_of("start/"))
        assert site.count("other.html") == 0
    assert [(p.url, p.status) for p in pages] == [
        (site.url_of("docs/"), "fetched"),
        (site.url_of("docs/a.html"), "fetched"),
    ]


def test_the_crawl_runs_ahead_of_a_slow_caller_by_a_bounded_amount() -> None:
    with serve_site() as site:
        site.robots = None
        names = [f"p{i}.html" for i in range(80)]
        site.add("index.html", "".join(f'<a href="{name}">{name}</a>' for name in names))
        for name in names:
            site.add(name, f"<p>{name}</p>")
        crawler = Crawler(site.url + "/", options(concurrency=2))
        pages = crawler.pages()
        next(pages)
        time.sleep(1.0)  # the caller is busy: the crawl fills its backlog, then waits
        ahead = len(site.hits)
        rest = list(pages)
    assert ahead <= AHEAD_PAGES + 2 + 2  # backlog, requests in flight, robots.txt and "/"
    assert len(rest) == 80 and crawler.summary.complete
