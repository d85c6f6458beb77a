"""URL normalisation, the crawl's scope and the content types it indexes."""

from __future__ import annotations

import pytest

from rag_chatbot.crawl.model import CrawlOptions
from rag_chatbot.crawl.urls import Scope, extension_for, is_sitemap_url, normalise
from rag_chatbot.errors import InvalidInput


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.ORG/Docs/Page.html#part", "http://example.org/Docs/Page.html"),
        ("https://example.org:443/a", "https://example.org/a"),
        ("http://example.org:80/a", "http://example.org/a"),
        ("http://example.org:8080/a", "http://example.org:8080/a"),
        ("https://example.org", "https://example.org/"),
        ("https://example.org/docs/index.html", "https://example.org/docs/index.html"),
        ("https://example.org/a/./b/../c.html", "https://example.org/a/c.html"),
        ("https://example.org/../../x", "https://example.org/x"),
        ("https://example.org/a/b/..", "https://example.org/a/"),
        ("https://example.org/a b/é.html", "https://example.org/a%20b/%C3%A9.html"),
        ("https://example.org/a%2fb%7e", "https://example.org/a%2Fb%7E"),
        ("https://user:secret@example.org/a", "https://example.org/a"),
        ("https://example.org./a", "https://example.org/a"),
        ("https://bücher.example/a", "https://xn--bcher-kva.example/a"),
        ("http://[::1]:8000/a", "http://[::1]:8000/a"),
        ("http://[0:0:0:0:0:0:0:1]/a", "http://[::1]/a"),
        ("https://example.org/a?", "https://example.org/a"),
        (
            "https://example.org/s?utm_source=x&q=crawl&UTM_Medium=y&gclid=1&fbclid=2&ref=hn&page=2",
            "https://example.org/s?q=crawl&page=2",
        ),
        ("https://example.org/s?b=2&a=1", "https://example.org/s?b=2&a=1"),  # order kept
        ("https://example.org/s?q=a b", "https://example.org/s?q=a%20b"),
    ],
)
def test_normalise(url: str, expected: str) -> None:
    assert normalise(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "mailto:someone@example.org",
        "javascript:void(0)",
        "ftp://example.org/file",
        "data:text/html,hi",
        "http:///nohost",
        "http://example.org:99999/",
        "http://exa mple.org/",
    ],
)
def test_what_cannot_be_fetched_is_none(url: str) -> None:
    assert normalise(url) is None


def test_relative_links_resolve_against_the_page() -> None:
    base = "https://example.org/docs/guide/intro.html"
    assert normalise("setup.html", base) == "https://example.org/docs/guide/setup.html"
    assert normalise("../api/", base) == "https://example.org/docs/api/"
    assert normalise("/about#team", base) == "https://example.org/about"
    assert normalise("//cdn.example.org/x", base) == "https://cdn.example.org/x"
    assert normalise("?page=2", base) == "https://example.org/docs/guide/intro.html?page=2"
    assert normalise("#top", base) == base


def test_scope_is_the_start_directory_on_the_same_origin() -> None:
    scope = Scope.around("https://example.org/docs/guide/intro.html")
    assert scope.origin == "https://example.org"
    assert scope.prefix == "/docs/guide/"
    assert scope.contains("https://example.org/docs/guide/setup.html")
    assert scope.contains("https://example.org/docs/guide/deep/er.html")
    assert not scope.contains("https://example.org/docs/other.html")
    assert not scope.contains("http://example.org/docs/guide/setup.html")  # another scheme
    assert not scope.contains("https://www.example.org/docs/guide/setup.html")
    assert not scope.contains("https://example.org:8443/docs/guide/setup.html")


def test_a_sitemaps_scope_is_its_directory() -> None:
    scope = Scope.around("https://example.org/docs/sitemap.xml")
    assert scope.prefix == "/docs/"
    assert scope.contains("https://example.org/docs/a.html")
    assert not scope.contains("https://example.org/blog/a.html")


def test_include_replaces_the_prefix_and_exclude_always_applies() -> None:
    scope = Scope.around(
        "https://example.org/docs/", include=("/guide/*", "/api/*"), exclude=("*/old/*",)
    )
    assert scope.contains("https://example.org/guide/a.html")
    assert scope.contains("https://example.org/api/v1/x")
    assert not scope.contains("https://example.org/docs/a.html")
    assert not scope.contains("https://example.org/guide/old/a.html")
    assert not scope.contains("https://other.org/guide/a.html")
    plain = Scope.around("https://example.org/", exclude=("/private/*", "*.pdf"))
    assert plain.contains("https://example.org/a.html")
    assert not plain.contains("https://example.org/private/a.html")
    assert not plain.contains("https://example.org/files/book.pdf")
    unrooted = Scope.around("https://example.org/", include=("guide/*",))
    assert unrooted.include == ("/guide/*",)
    assert unrooted.contains("https://example.org/guide/a.html")


def test_a_glob_with_a_scheme_matches_the_whole_url() -> None:
    scope = Scope.around("https://example.org/", include=("https://example.org/*?lang=en",))
    assert scope.contains("https://example.org/page?lang=en")
    assert not scope.contains("https://example.org/page?lang=fr")


def test_rebasing_keeps_the_prefix_the_new_start_is_under() -> None:
    scope = Scope.around("http://example.org/docs/", exclude=("/docs/x/*",))
    moved = scope.rebased("https://example.org/docs/intro/")
    assert (moved.origin, moved.prefix, moved.exclude) == (
        "https://example.org",
        "/docs/",
        ("/docs/x/*",),
    )
    elsewhere = Scope.around("https://example.org/").rebased("https://example.org/en/latest/")
    assert elsewhere.prefix == "/"
    narrower = Scope.around("https://example.org/docs/").rebased("https://example.org/v2/a")
    assert narrower.prefix == "/v2/"


@pytest.mark.parametrize(
    ("content_type", "url", "extension"),
    [
        ("text/html; charset=utf-8", "https://e.org/a", ".html"),
        ("application/xhtml+xml", "https://e.org/a.xhtml", ".html"),
        ("APPLICATION/PDF", "https://e.org/a", ".pdf"),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "https://e.org/a",
            ".docx",
        ),
        ("application/epub+zip", "https://e.org/book", ".epub"),
        ("text/markdown", "https://e.org/readme", ".md"),
        ("text/x-markdown", "https://e.org/readme", ".md"),
        ("text/plain", "https://e.org/README.md", ".md"),
        ("text/plain", "https://e.org/page.mdx", ".mdx"),
        ("text/plain; charset=utf-8", "https://e.org/index.rst", ".rst"),
        ("text/plain", "https://e.org/notes", ".txt"),
        ("text/x-rst", "https://e.org/index", ".rst"),
        ("image/png", "https://e.org/a.png", None),
        ("application/octet-stream", "https://e.org/a.pdf", None),
        ("", "https://e.org/a.html", None),
    ],
)
def test_content_types(content_type: str, url: str, extension: str | None) -> None:
    assert extension_for(content_type, url) == extension


def test_sitemap_urls() -> None:
    assert is_sitemap_url("https://e.org/sitemap.xml")
    assert is_sitemap_url("https://e.org/docs/sitemap_index.XML")
    assert is_sitemap_url("https://e.org/sitemap-1.xml.gz")
    assert not is_sitemap_url("https://e.org/")
    assert not is_sitemap_url("https://e.org/sitemap.html")


def test_options_refuse_nonsense() -> None:
    with pytest.raises(InvalidInput, match="concurrency must be positive"):
        CrawlOptions(concurrency=0)
    with pytest.raises(InvalidInput, match="retries must not be negative"):
        CrawlOptions(retries=-1)
    assert CrawlOptions().agent_token == "rag-chatbot"
    assert CrawlOptions(user_agent="DocsBot/2.0 (+https://e.org)").agent_token == "DocsBot"
