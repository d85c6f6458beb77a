"""URL normalisation, the crawl's scope, and which content types become which documents.

One page, one URL: fragments and tracking parameters are dropped, scheme and host lower-cased,
default ports removed, dot segments resolved and unsafe characters percent-encoded. Nothing is
guessed beyond that: ``/docs/`` and ``/docs/index.html`` stay two URLs (a duplicate body is
caught by its hash).
"""

from __future__ import annotations

import fnmatch
import functools
import ipaddress
import re
from dataclasses import dataclass, replace
from urllib.parse import quote, unquote_plus, urljoin, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# Parameters that say where a visitor came from, never what the page shows.
TRACKING = frozenset(
    {
        "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "fbclid", "msclkid", "yclid", "igshid",
        "twclid", "ttclid", "li_fat_id", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi",
        "mkt_tok", "ref", "ref_src", "ref_url", "referrer", "source", "spm", "vero_id",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
SITEMAP_SUFFIXES = (".xml", ".xml.gz")
MARKUP_SUFFIXES = {".md": ".md", ".markdown": ".md", ".mdx": ".mdx", ".rst": ".rst"}
# The loader hint for each accepted media type (ingestion.loaders reads these extensions).
MEDIA_TYPES = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/epub+zip": ".epub",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "text/x-rst": ".rst",
    "text/plain": ".txt",
}


def normalise(url: str, base: str | None = None) -> str | None:
    """The absolute, normalised form of ``url`` (resolved against ``base``), or None.

    None for what a crawler cannot fetch: other schemes (mailto:, javascript:), no host, a bad
    port or host name.
    """
    url = url.strip()
    try:
        parts = urlsplit(urljoin(base, url) if base else url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in DEFAULT_PORTS or not host:
        return None
    host = _host(host)
    if host is None:
        return None
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _escape(remove_dot_segments(parts.path or "/"), _PATH_SAFE)
    return urlunsplit((scheme, netloc, path, _clean_query(parts.query), ""))


@functools.lru_cache(maxsize=1024)
def _host(host: str) -> str | None:
    """Lower-case ASCII host (IDNA for Unicode names), IPv6 in brackets, trailing dot dropped."""
    host = host.rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            host = host.encode("idna").decode("ascii") if not host.isascii() else host
        except UnicodeError:
            return None
        if not host or any(c in host for c in "/\\ @[]"):
            return None
        return host.lower()
    return f"[{address.compressed}]" if address.version == 6 else address.compressed


def host_of(url: str) -> str:
    """The host of a normalised URL, IPv6 without brackets."""
    return urlsplit(url).hostname or ""


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: '/a/./b/../c' is '/a/c'."""
    output: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(output) > 1:
                output.pop()
        elif segment != ".":
            output.append(segment)
    if path.endswith(("/.", "/..")):
        output.append("")
    joined = "/".join(output)
    return joined if joined.startswith("/") else "/" + joined


def _escape(text: str, safe: str) -> str:
    """Percent-encode what may not appear raw (keeping escapes), escapes upper-cased."""
    return _ESCAPE.sub(lambda m: m.group(0).upper(), quote(text, safe=safe))


def _clean_query(query: str) -> str:
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        name = unquote_plus(pair.split("=", 1)[0]).lower()
        if name in TRACKING or name.startswith(TRACKING_PREFIXES):
            continue
        kept.append(_escape(pair, _QUERY_SAFE))
    return "&".join(kept)


def is_sitemap_url(url: str) -> bool:
    """Whether a start URL names a sitemap (its last path segment ends in .xml or .xml.gz)."""
    return urlsplit(url).path.lower().endswith(SITEMAP_SUFFIXES)


@dataclass(frozen=True)
class Scope:
    """Which URLs a crawl fetches: same scheme and host, under a path prefix or the globs.

    ``include`` replaces the prefix when given; ``exclude`` always applies. Globs match the
    URL's path (``fnmatch``: ``*`` crosses ``/``), or the whole URL when they hold '://'.
    """

    origin: str  # "https://example.org"
    prefix: str  # "/docs/"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def around(
        cls, url: str, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()
    ) -> Scope:
        """The scope of a start URL: its directory (the sitemap's, for a sitemap)."""
        parts = urlsplit(url)
        prefix = parts.path[: parts.path.rfind("/") + 1] or "/"
        globs = (tuple(_rooted(g) for g in include), tuple(_rooted(g) for g in exclude))
        return cls(f"{parts.scheme}://{parts.netloc}", prefix, *globs)

    def rebased(self, url: str) -> Scope:
        """The scope of the URL the start redirected to, with the same globs.

        The prefix stays when the new URL is under it ('http://h/docs/' to
        'https://h/docs/intro' keeps '/docs/'), else it is the new URL's directory.
        """
        moved = Scope.around(url)
        prefix = self.prefix if urlsplit(url).path.startswith(self.prefix) else moved.prefix
        return replace(self, origin=moved.origin, prefix=prefix)

    def same_site(self, url: str) -> bool:
        return url == self.origin or url.startswith(self.origin + "/")

    def contains(self, url: str) -> bool:
        """Whether ``url`` (normalised) is to be crawled."""
        if not self.same_site(url):
            return False
        path = urlsplit(url).path
        if self.include:
            if not any(_matches(glob, url, path) for glob in self.include):
                return False
        elif not path.startswith(self.prefix):
            return False
        return not any(_matches(glob, url, path) for glob in self.exclude)


def _rooted(glob: str) -> str:
    """'guide/*' as '/guide/*': a path glob matches from the root."""
    glob = glob.strip()
    return glob if glob.startswith(("/", "*")) or "://" in glob else "/" + glob


def _matches(glob: str, url: str, path: str) -> bool:
    return fnmatch.fnmatchcase(url if "://" in glob else path, glob)


def extension_for(content_type: str, url: str) -> str | None:
    """The loader hint for a response's Content-Type, or None for a type not indexed.

    Markdown, MDX and reStructuredText served as text/plain (or text/markdown) are recognised
    by the URL's suffix: .md, .mdx, .rst.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    extension = MEDIA_TYPES.get(media)
    if extension in (".md", ".txt", ".rst"):
        path = urlsplit(url).path.lower()
        for suffix, hint in MARKUP_SUFFIXES.items():
            if path.endswith(suffix):
                return hint
    return extension
