"""Sitemaps (sitemaps.org): URL sets, sitemap indexes, gzip-compressed and plain-text ones.

Parsed by lxml as a stream of elements (a 50 MB sitemap never becomes a tree), with entities,
DTDs and network access off, so a hostile sitemap cannot read files or expand itself.
Compressed sitemaps are inflated with a cap. ``<lastmod>`` becomes an aware datetime; a date
without a time counts as the end of that day, so a page changed later that day is not
mistaken for unchanged.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lxml import etree

from rag_chatbot.crawl.fetch import Fetcher, FetchError
from rag_chatbot.crawl.model import MIB
from rag_chatbot.crawl.urls import normalise

MAX_INFLATED = 64 * MIB  # the protocol's limit is 50 MB uncompressed
MAX_SITEMAPS = 500
MAX_NESTING = 3  # an index of indexes of sitemaps, at most


class SitemapError(ValueError):
    """A sitemap that cannot be read; the message says why."""


@dataclass(frozen=True)
class SitemapEntry:
    url: str  # normalised
    lastmod: datetime | None


@dataclass
class Sitemap:
    pages: list[SitemapEntry] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)  # an index's children


def parse_lastmod(text: str) -> datetime | None:
    """A W3C datetime as an aware UTC datetime; a bare date means the end of that day."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).replace(tzinfo=UTC)
            return day + timedelta(days=1)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def inflate(data: bytes, limit: int = MAX_INFLATED) -> bytes:
    """Gzip data inflated (other data as it is); SitemapError past ``limit`` bytes."""
    if not data.startswith(b"\x1f\x8b"):
        return data
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise SitemapError(f"broken gzip data ({exc})") from exc
    if len(out) > limit:
        raise SitemapError(f"inflates to more than {limit // MIB} MiB")
    return out


def parse_sitemap(data: bytes, url: str) -> Sitemap:
    """The pages (with lastmod) or the child sitemaps a sitemap lists, URLs normalised."""
    data = inflate(data)
    if data.lstrip()[:1] != b"<":
        return _parse_text(data, url)
    found = Sitemap()
    loc: str | None = None
    lastmod: datetime | None = None
    events = etree.iterparse(
        io.BytesIO(data),
        events=("end",),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        recover=True,
    )
    try:
        for _, element in events:
            if not isinstance(element.tag, str):
                continue
            name = etree.QName(element).localname
            text = (element.text or "").strip()
            if name == "loc":
                loc = normalise(text, base=url)
            elif name == "lastmod":
                lastmod = parse_lastmod(text)
            elif name in ("url", "sitemap"):
                if loc is not None:
                    if name == "url":
                        found.pages.append(SitemapEntry(loc, lastmod))
                    else:
                        found.sitemaps.append(loc)
                loc, lastmod = None, None
                element.clear()
    except etree.XMLSyntaxError as exc:
        raise SitemapError(f"not a readable sitemap ({exc})") from exc
    return found


def _parse_text(data: bytes, url: str) -> Sitemap:
    """A plain-text sitemap: one URL a line."""
    found = Sitemap()
    for line in data.decode("utf-8", errors="replace").splitlines():
        if line.strip().startswith(("http://", "https://")):
            loc = normalise(line, base=url)
            if loc is not None:
                found.pages.append(SitemapEntry(loc, None))
    return found


@dataclass
class SitemapReading:
    """What the sitemaps of a crawl listed: in-scope pages in order, and what went wrong."""

    pages: dict[str, datetime | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    read: int = 0
    truncated: bool = False  # stopped at max_pages or MAX_SITEMAPS with sitemaps left


async def read_sitemaps(
    fetcher: Fetcher,
    roots: list[str],
    *,
    wanted_page: Callable[[str], bool],
    wanted_sitemap: Callable[[str], bool],
    max_pages: int,
) -> SitemapReading:
    """Read ``roots`` and the sitemaps they index, breadth first, up to ``max_pages`` pages."""
    reading = SitemapReading()
    queue = [(url, 0) for url in roots]
    queued = set(roots)
    while queue:
        if reading.read >= MAX_SITEMAPS or len(reading.pages) >= max_pages:
            reading.truncated = True
            break
        url, nesting = queue.pop(0)
        try:
            response = await fetcher.get(
                url,
                hop_check=lambda source, target: (
                    None
                    if wanted_sitemap(target)
                    else FetchError("skipped", f"redirects to {target}, off the site")
                ),
            )
            if response.body is None:
                raise SitemapError(f"answered {response.describe}")
            sitemap = parse_sitemap(response.body, response.url)
        except (FetchError, SitemapError) as exc:
            reading.problems.append(f"sitemap {url}: {exc}")
            continue
        reading.read += 1
        for entry in sitemap.pages:
            if wanted_page(entry.url) and entry.url not in reading.pages:
                reading.pages[entry.url] = entry.lastmod
        for child in sitemap.sitemaps:
            if nesting < MAX_NESTING and child not in queued and wanted_sitemap(child):
                queued.add(child)
                queue.append((child, nesting + 1))
    return reading
