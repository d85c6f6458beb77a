"""What the crawler reads from sitemaps, robots.txt and HTML pages."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rag_chatbot.crawl.links import read_html, robots_directives
from rag_chatbot.crawl.robots import parse_robots
from rag_chatbot.crawl.sitemaps import SitemapError, inflate, parse_lastmod, parse_sitemap

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "eval" / "docs-faq" / "corpus"
NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def test_a_url_set_gives_pages_with_lastmod() -> None:
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
    <urlset {NS}>
      <url><loc>https://e.org/docs/a.html?utm_source=feed#top</loc>
           <lastmod>2026-03-01T10:00:00+02:00</lastmod><priority>0.5</priority></url>
      <!-- a comment -->
      <url><loc> https://e.org/docs/b.html </loc></url>
      <url><lastmod>2026-03-01</lastmod></url>
    </urlset>"""
    found = parse_sitemap(xml.encode(), "https://e.org/sitemap.xml")
    assert [(e.url, e.lastmod) for e in found.pages] == [
        ("https://e.org/docs/a.html", datetime(2026, 3, 1, 8, 0, tzinfo=UTC)),
        ("https://e.org/docs/b.html", None),
    ]
    assert found.sitemaps == []


def test_an_index_gives_sitemaps_and_gzip_is_inflated() -> None:
    xml = f"<sitemapindex {NS}><sitemap><loc>https://e.org/s1.xml.gz</loc></sitemap>"
    xml += "<sitemap><loc>/s2.xml</loc><lastmod>2026-01-01</lastmod></sitemap></sitemapindex>"
    found = parse_sitemap(gzip.compress(xml.encode()), "https://e.org/sitemap_index.xml")
    assert found.sitemaps == ["https://e.org/s1.xml.gz", "https://e.org/s2.xml"]
    assert found.pages == []


def test_a_text_sitemap_lists_one_url_a_line() -> None:
    found = parse_sitemap(b"https://e.org/a\n\n  https://e.org/b  \nnot a url\n", "https://e.org/")
    assert [e.url for e in found.pages] == ["https://e.org/a", "https://e.org/b"]


def test_entities_are_never_expanded() -> None:
    secret = Path(__file__)  # any local file: its text must not appear in the URLs
    xml = f"""<?xml version="1.0"?>
    <!DOCTYPE urlset [<!ENTITY leak SYSTEM "file://{secret}">]>
    <urlset {NS}><url><loc>https://e.org/&leak;x</loc></url></urlset>"""
    found = parse_sitemap(xml.encode(), "https://e.org/sitemap.xml")
    assert [e.url for e in found.pages] == ["https://e.org/"]  # the reference is cut off


def test_a_gzip_bomb_is_refused_at_the_cap() -> None:
    bomb = gzip.compress(b"<" + b" " * (5 * 1024 * 1024))
    with pytest.raises(SitemapError, match="inflates to more than 1 MiB"):
        inflate(bomb, limit=1024 * 1024)
    with pytest.raises(SitemapError, match="broken gzip"):
        inflate(b"\x1f\x8b" + b"garbage" * 10)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01", datetime(2026, 3, 2, tzinfo=UTC)),  # the end of that day
        ("2026-03-01T10:00:00Z", datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("2026-03-01T10:00:00.5-01:00", datetime(2026, 3, 1, 11, 0, 0, 500000, tzinfo=UTC)),
        ("2026-03-01T10:00:00", datetime(2026, 3, 1, 10, tzinfo=UTC)),  # no zone: UTC
        ("March 2026", None),
        ("", None),
    ],
)
def test_lastmod(text: str, expected: datetime | None) -> None:
    assert parse_lastmod(text) == expected


def test_robots_rules_are_read_as_the_rfc_says() -> None:
    rules = parse_robots(
        "User-agent: *\nDisallow: /docs\nAllow: /docs/public\nDisallow: /*.pdf$\n"
        "Crawl-delay: 2\n\nUser-agent: rag-chatbot\nDisallow: /private/\n"
        "Sitemap: https://e.org/sitemap.xml\n",
        "rag-chatbot",
    )
    # Our own group applies, not '*': the longest match decides inside it.
    assert not rules.allows("https://e.org/private/a.html")
    assert rules.allows("https://e.org/docs/a.html")
    assert rules.sitemaps == ["https://e.org/sitemap.xml"]
    others = parse_robots(
        "User-agent: *\nDisallow: /docs\nAllow: /docs/public\nDisallow: /*.pdf$\nCrawl-delay: 2\n",
        "rag-chatbot",
    )
    assert not others.allows("https://e.org/docs/a.html")
    assert others.allows("https://e.org/docs/public/a.html")  # longest match, not first
    assert not others.allows("https://e.org/files/book.pdf")
    assert others.allows("https://e.org/files/book.pdf?download=1")
    assert others.delay == 2


def test_links_canonical_and_base_are_resolved() -> None:
    html = b"""<html><head><base href="https://e.org/docs/">
    <link rel="stylesheet" href="style.css"><link rel="Canonical" href="guide/#x">
    </head><body><a href="a.html#one">A</a><a href="a.html#two">A again</a>
    <a href="mailto:me@e.org">mail</a><a href="javascript:go()">js</a><a href="">self</a>
    <map><area href="/map.html"></map><a href="https://other.org/x?utm_campaign=y">o</a>
    </body></html>"""
    facts = read_html(html, "https://e.org/elsewhere/page.html")
    assert facts.links == (
        "https://e.org/docs/a.html",
        "https://e.org/map.html",
        "https://other.org/x",
    )
    assert facts.canonical == "https://e.org/docs/guide/"
    assert not facts.noindex and not facts.nofollow


def test_robots_meta_tags() -> None:
    page = b'<meta name="robots" content="NOINDEX, follow"><a href="b.html">b</a>'
    facts = read_html(page, "https://e.org/a.html")
    assert facts.noindex and not facts.nofollow
    assert read_html(b'<meta name="rag-chatbot" content="none">', "https://e.org/").nofollow
    assert not read_html(b'<meta name="otherbot" content="noindex">', "https://e.org/").noindex
    assert robots_directives("otherbot: noindex, rag-chatbot: nofollow", "rag-chatbot") == {
        "nofollow"
    }


def test_xhtml_pages_and_empty_bodies() -> None:
    page = (CORPUS / "git" / "git-show.html").read_bytes()  # AsciiDoc XHTML 1.1
    facts = read_html(page, "https://git.example/docs/git-show.html")
    assert "https://git.example/docs/git-log.html" in facts.links
    assert all(link.startswith("https://") for link in facts.links)
    assert read_html(b"", "https://e.org/").links == ()
    assert read_html(b"\x00\xff binary", "https://e.org/").links == ()
