"""Published page URLs of source files, by each generator's rule.

The Docusaurus cases are those of Docusaurus's own tests (``slug.test.ts`` and
``numberPrefix.test.ts`` of the docs plugin), written as our function's inputs; MkDocs is
also checked against a real build in ``test_mkdocs_site.py``.
"""

from __future__ import annotations

import pytest

from rag_chatbot.ingestion.site_urls import SITE_STYLES, published_url, strip_number_prefix

BASE = "https://example.org/site/"


def docusaurus(source: str, slug: str = "") -> str:
    return published_url(source, base_url=BASE, style="docusaurus", slug=slug)


@pytest.mark.parametrize(
    ("source", "slug", "expected"),
    [
        ("docs/intro.md", "", "/docs/intro"),
        ("docs/dir/doc.md", "", "/docs/dir/doc"),
        ("docs/dir/subdir/doc.md", "", "/docs/dir/subdir/doc"),
        # Conventional indexes: index, readme (any case), a file named like its folder.
        ("docs/dir/subdir/index.md", "", "/docs/dir/subdir/"),
        ("docs/dir/subdir/inDEx.mdx", "", "/docs/dir/subdir/"),
        ("docs/dir/subdir/readme.md", "", "/docs/dir/subdir/"),
        ("docs/dir/subdir/reADMe.mdx", "", "/docs/dir/subdir/"),
        ("docs/dir/subdir/suBDir.mdx", "", "/docs/dir/subdir/"),
        ("docs/index.md", "", "/docs/"),
        ("docs/dir/subdir/index.md", "/my/frontMatterSlug", "/docs/my/frontMatterSlug"),
        # Number prefixes, on folders and on the file.
        ("docs/001-dir1/002-dir2/doc.md", "", "/docs/dir1/dir2/doc"),
        ("docs/01-intro.md", "", "/docs/intro"),
        ("docs/2021-01-31-release.md", "", "/docs/2021-01-31-release"),
        ("docs/8.0-notes.md", "", "/docs/8.0-notes"),
        # Absolute and relative front matter slugs (or ids).
        ("docs/doc.md", "/abc/def", "/docs/abc/def"),
        ("docs/any/any/doc.md", "/abc/def", "/docs/abc/def"),
        ("docs/doc.md", "abc/def", "/docs/abc/def"),
        ("docs/dir/doc.md", "abc/def", "/docs/dir/abc/def"),
        ("docs/dir/subdir/doc.md", "abc/def", "/docs/dir/subdir/abc/def"),
        ("docs/dir/doc.md", "./abc/def", "/docs/dir/abc/def"),
        ("docs/dir/doc.md", "./abc/../def", "/docs/dir/def"),
        ("docs/dir/subdir/doc.md", "../abc/def", "/docs/dir/abc/def"),
        ("docs/dir/subdirDoc.md", "../../../../../abc/../def", "/docs/def"),
        ("docs/02-guide/setup.md", "install-guide", "/docs/guide/install-guide"),
        ("docs/guide/setup.md", "/", "/docs/"),
        # A folder of docs ingested on its own: the base URL carries the route.
        ("intro.md", "", "/intro"),
        ("guide/index.mdx", "", "/guide/"),
    ],
)
def test_docusaurus_urls(source: str, slug: str, expected: str) -> None:
    assert docusaurus(source, slug) == "https://example.org/site" + expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("1-My Doc", "My Doc"),
        ("001 - My Doc", "My Doc"),
        ("999      -        My Doc", "My Doc"),
        ("01---My Doc", "My Doc"),
        ("001 ___ My Doc", "My Doc"),
        ("001      .    My Doc", "My Doc"),
        ("0046036 - My Doc", "My Doc"),
    ],
)
def test_number_prefixes_are_stripped(name: str, expected: str) -> None:
    assert strip_number_prefix(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "MyDoc",
        "a1-My Doc",
        "My Doc-000",
        "Hey - 03 - My Doc",
        "00abc01-My Doc",
        "My -001 Doc",
        "2021-01-31 - Doc",
        "31.01.2021 - Doc",
        "2021_01 - Doc",
        "01",
        "2021",
        "8.0",
        "14.2.16",
        "8_0_0",
        "8.0 - Doc",
    ],
)
def test_names_that_only_look_numbered_are_kept(name: str) -> None:
    assert strip_number_prefix(name) == name


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("docs/index.md", "/"),
        ("docs/guide/setup.md", "/guide/setup/"),
        ("docs/guide/index.md", "/guide/"),
        ("docs/about/README.md", "/about/"),
        ("docs/about/readme.md", "/about/readme/"),  # MkDocs takes "README" in capitals only
        ("docs/02-start/first-steps.md", "/02-start/first-steps/"),
        ("guide/setup.md", "/guide/setup/"),
    ],
)
def test_mkdocs_urls(source: str, expected: str) -> None:
    url = published_url(source, base_url="https://docs.example.org", style="mkdocs", slug="x")
    assert url == "https://docs.example.org" + expected


def test_sphinx_and_plain_urls_are_html_files() -> None:
    assert published_url("foo/bar.rst", base_url=BASE, style="sphinx") == (
        "https://example.org/site/foo/bar.html"
    )
    assert published_url("index.rst", base_url="", style="sphinx") == "/index.html"
    assert published_url("notes/a b.md", base_url=BASE, style="plain") == (
        "https://example.org/site/notes/a%20b.html"
    )


def test_paths_are_quoted_and_backslashes_are_separators() -> None:
    assert docusaurus("docs\\dir with spâce\\doc.md") == (
        "https://example.org/site/docs/dir%20with%20sp%C3%A2ce/doc"
    )


def test_unknown_style_and_empty_path_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown site style 'hugo': use one of docusaurus"):
        published_url("a.md", base_url=BASE, style="hugo")
    with pytest.raises(ValueError, match="no file"):
        published_url("./", base_url=BASE, style="plain")
    assert SITE_STYLES == ("docusaurus", "mkdocs", "sphinx", "plain")
