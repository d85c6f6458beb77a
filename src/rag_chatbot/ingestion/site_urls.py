"""Where a source file is published: its page's URL on the site a generator builds from it.

A citation can link to the published page instead of the reader's copy; that needs the same
path the generator gives the file, which each generator derives by its own rule:

- ``docusaurus`` (docs plugin, default options): the path without its extension, number
  prefixes stripped from every part (``01-intro.md`` is ``intro``; not date- or version-like
  names such as ``2021-01-31`` or ``8.0``); ``index``, ``README`` (any case) or a file named
  like its folder is the folder's URL, ending in ``/``. A front matter ``slug`` starting with
  ``/`` replaces the path, a relative one (or the ``id``) replaces the file's name, resolved
  against its folder. A first folder ``docs`` is the plugin's folder, published at ``/docs``,
  so an absolute slug lands under it.
- ``mkdocs`` (``use_directory_urls: true``, the default): a first folder ``docs`` (the default
  ``docs_dir``) is the site root; ``guide/setup.md`` is ``guide/setup/``, ``index.md`` and
  ``README.md`` are their folder's URL.
- ``sphinx`` (the ``html`` builder): ``foo/bar.rst`` is ``foo/bar.html``, the path taken from
  the source directory.
- ``plain``: the path with its extension made ``.html``.

Pure functions of the path and front matter: nothing is read from disk or configuration.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import quote

from rag_chatbot.ingestion.loaders.slugs import HeadingIdStyle

SiteStyle = Literal["docusaurus", "mkdocs", "sphinx", "plain"]
SITE_STYLES: tuple[SiteStyle, ...] = ("docusaurus", "mkdocs", "sphinx", "plain")

# Docusaurus's DefaultNumberPrefixParser: "01-intro", "003 - Setup"; "2021-01-31" and "8.0"
# are names, not prefixes.
_NOT_A_PREFIX = re.compile(r"^\d+[-_.]\d+")
_NUMBER_PREFIX = re.compile(r"^\d+\s*[-_.]+\s*(?P<rest>[^-_.\s].*)$")
_DOCUSAURUS_INDEXES = frozenset({"index", "readme"})
_MKDOCS_INDEXES = frozenset({"index", "README"})  # MkDocs reads "README" in this case only
_DOCS_FOLDER = "docs"
# Characters a URL path keeps as they are (RFC 3986 pchar plus "/").
_PATH_SAFE = "/-._~!$&'()*+,;=:@"


def published_url(source: str, *, base_url: str, style: str, slug: str = "") -> str:
    """The URL of ``source``'s page on the site at ``base_url``, built by ``style``.

    ``source`` is the file's path relative to the ingested folder, with ``/`` between parts;
    ``slug`` is the page's front matter ``slug`` or ``id`` (``LoadedDocument.slug``), used by
    ``docusaurus`` only. Raises ``ValueError`` for an unknown style or an empty path.
    """
    parts = [part for part in source.replace("\\", "/").split("/") if part not in ("", ".")]
    if not parts:
        raise ValueError(f"no file in source path {source!r}")
    if style == "docusaurus":
        route = _docusaurus(parts, slug)
    elif style == "mkdocs":
        route = _mkdocs(parts)
    elif style in ("sphinx", "plain"):
        route = "/" + str(PurePosixPath(*parts).with_suffix(".html"))
    else:
        raise ValueError(f"unknown site style {style!r}: use one of {', '.join(SITE_STYLES)}")
    return base_url.rstrip("/") + quote(re.sub("/{2,}", "/", route), safe=_PATH_SAFE)


def strip_number_prefix(name: str) -> str:
    """A file or folder name without Docusaurus's number prefix (``01-intro`` -> ``intro``)."""
    if _NOT_A_PREFIX.match(name):
        return name
    match = _NUMBER_PREFIX.match(name)
    return match.group("rest") if match else name


def _docusaurus(parts: list[str], slug: str) -> str:
    root = ""
    if len(parts) > 1 and parts[0] == _DOCS_FOLDER:
        root, parts = "/" + _DOCS_FOLDER, parts[1:]
    folders, file_name = parts[:-1], PurePosixPath(parts[-1]).stem
    folder_url = "/" + "".join(f"{strip_number_prefix(folder)}/" for folder in folders)
    slug = slug.strip()
    if slug.startswith("/"):
        return root + slug
    if not slug and _is_category_index(file_name, folders):
        return root + folder_url
    return root + _resolve(slug or strip_number_prefix(file_name), folder_url)


def _is_category_index(file_name: str, folders: list[str]) -> bool:
    name = file_name.lower()
    return name in _DOCUSAURUS_INDEXES or bool(folders and name == folders[-1].lower())


def _resolve(relative: str, folder_url: str) -> str:
    """``relative`` resolved against ``folder_url`` as a browser resolves a link (``..`` too)."""
    resolved = posixpath.normpath(posixpath.join(folder_url, relative))
    resolved = "/" + resolved.lstrip("/")  # normpath keeps a leading "//"
    if relative.endswith("/") and not resolved.endswith("/"):
        resolved += "/"
    return resolved


def _mkdocs(parts: list[str]) -> str:
    if len(parts) > 1 and parts[0] == _DOCS_FOLDER:
        parts = parts[1:]
    folders, stem = parts[:-1], PurePosixPath(parts[-1]).stem
    if stem not in _MKDOCS_INDEXES:
        folders = [*folders, stem]
    return "/" + "".join(f"{folder}/" for folder in folders)


@dataclass(frozen=True)
class Publication:
    """The site a folder of sources is published as (settings ``SITE_URL``, ``SITE_STYLE``)."""

    base_url: str
    style: SiteStyle

    def url_of(self, source: str, slug: str = "") -> str:
        return published_url(source, base_url=self.base_url, style=self.style, slug=slug)

    @property
    def heading_ids(self) -> HeadingIdStyle:
        """The rule the generator anchors Markdown headings by."""
        if self.style == "docusaurus":
            return "docusaurus"
        return "mkdocs" if self.style == "mkdocs" else "github"
