"""What a crawler needs from an HTML page: its links, its canonical URL, its robots meta tags.

lxml's HTML parser reads the page (XHTML included) the way a browser would, tolerating broken
markup; links are ``<a href>`` and ``<area href>``, resolved against ``<base href>`` and
normalised. ``<meta name="robots">`` (or ``name="rag-chatbot"``) and an ``X-Robots-Tag``
header may say ``noindex`` (do not keep the page) and ``nofollow`` (do not follow its links).
"""

from __future__ import annotations

from dataclasses import dataclass

import lxml.html
from lxml import etree

from rag_chatbot.crawl.urls import normalise

MAX_LINKS = 20_000  # a page with more is a generated index; the rest is not followed


@dataclass(frozen=True)
class HtmlFacts:
    links: tuple[str, ...]  # normalised, in page order, without repeats
    canonical: str | None  # normalised rel=canonical target
    noindex: bool = False
    nofollow: bool = False


def robots_directives(value: str, agent: str) -> set[str]:
    """The directives of a robots meta tag or X-Robots-Tag value that apply to us.

    'noindex, nofollow' applies to every crawler; 'otherbot: noindex' only to that one.
    """
    found: set[str] = set()
    for part in value.lower().split(","):
        name, _, rest = part.partition(":")
        if rest and name.strip() not in ("", agent.lower()):
            continue
        token = (rest if rest else name).strip()
        found.update({"noindex", "nofollow"} if token == "none" else {token})
    return found


def read_html(body: bytes, url: str, agent: str = "rag-chatbot") -> HtmlFacts:
    """The links, canonical URL and robots directives of an HTML page fetched from ``url``."""
    try:
        root = lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return HtmlFacts((), None)
    base = url
    for element in root.iter("base"):
        href = element.get("href")
        if href:
            base = normalise(href, base=url) or url
            break
    links: dict[str, None] = {}
    hrefs: set[str] = set()  # a page repeats its links (with other fragments): normalise once
    canonical: str | None = None
    directives: set[str] = set()
    for element in root.iter("a", "area", "link", "meta"):
        tag = element.tag
        if tag == "meta":
            name = (element.get("name") or "").lower()
            if name in ("robots", agent.lower()):
                directives |= robots_directives(element.get("content") or "", agent)
            continue
        href = element.get("href")
        if not href:
            continue
        if tag == "link":
            rel = (element.get("rel") or "").lower().split()
            if canonical is None and "canonical" in rel:
                canonical = normalise(href, base=base)
        elif len(links) < MAX_LINKS:
            href = href.split("#", 1)[0]
            if href in hrefs:
                continue
            hrefs.add(href)
            target = normalise(href, base=base) if href else None
            if target is not None:
                links[target] = None
    return HtmlFacts(
        tuple(links), canonical, noindex="noindex" in directives, nofollow="nofollow" in directives
    )
