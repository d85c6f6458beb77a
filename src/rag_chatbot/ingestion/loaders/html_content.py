"""Which part of an HTML page is content: the content root and the chrome to leave out.

Site chrome (menus, search boxes, tables of contents, footers) repeats on every page and would
drown the page's own text in search results, so it is recognised by tag, ARIA role, and class or
id words, and skipped. A chrome-looking element that holds the page's own ``<h1>`` is kept:
generated docs (AsciiDoc's ``<div id="header">``) put the page title and its first section there.
An ``<h1>`` in a site banner is the site's name (the Node.js docs' "Node.js v20 documentation"
over every page), so it neither starts every heading path nor names the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeGuard

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString, PreformattedString

from rag_chatbot.ingestion.loaders.html_chrome import is_furniture

HEADING_LEVELS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}

# Never content, whatever they contain.
_DROPPED_TAGS = frozenset(
    {
        "script", "style", "noscript", "template", "nav", "aside", "form", "button",
        "select", "input", "textarea", "svg", "canvas", "iframe", "object", "embed",
        "head", "title", "meta", "link",
    }
)  # fmt: skip
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "complementary"})
# Page furniture when a class word or an id is one of these (optionally "site-", "main" ...).
_CHROME_WORD = re.compile(
    r"(?:main|sub|top|side|site|page|global|left|right)?[-_]?"
    r"(?:nav|navbar|navigation|menu|menubar|sidebar|toc|breadcrumbs?|footer|header|"
    r"search|searchbox|searchmenu|nosearch|skiplinks?)\d*"
)
_WORD_SPLIT = re.compile(r"[-_]")
_SECTIONING = frozenset({"article", "section", "main"})
_BANNER = 2  # rank of an <h1> in a site banner
_H1_LIMIT = 64  # <h1>s examined for the page's own; a page with more is a list of sections


def attr(tag: Tag, name: str) -> str:
    """An attribute as one string ('' when absent); multi-valued ones are joined by spaces."""
    value = tag.get(name)
    if value is None:
        return ""
    return value if isinstance(value, str) else " ".join(value)


def is_text(node: object) -> TypeGuard[NavigableString]:
    """Whether ``node`` is text a reader sees (not a comment, CDATA, doctype or instruction)."""
    return isinstance(node, NavigableString) and not isinstance(node, PreformattedString)


def is_dropped(tag: Tag) -> bool:
    """Whether ``tag`` is never content: scripts, forms, navigation, hidden elements, and
    generator furniture (permalink signs, copy buttons, line numbers: see ``html_chrome``)."""
    if tag.name in _DROPPED_TAGS or is_furniture(tag):
        return True
    attrs = tag.attrs
    if "hidden" in attrs or attrs.get("aria-hidden") == "true":
        return True
    return attr(tag, "role").lower() in _CHROME_ROLES


def _chrome_named(tag: Tag) -> bool:
    # Class words are split ("fancy_toc" -> "toc"); ids are matched whole because generators
    # derive them from heading text ("_header_levels") and a word match would drop real content.
    element_id = attr(tag, "id").lower()
    if element_id and _CHROME_WORD.fullmatch(element_id):
        return True
    for css_class in attr(tag, "class").lower().split():
        words = [css_class, *_WORD_SPLIT.split(css_class)]
        if any(_CHROME_WORD.fullmatch(word) for word in words if word):
            return True
    return False


@dataclass(frozen=True)
class Layout:
    """Where a page's content is: the element to walk and the page's own ``<h1>``, if any."""

    root: Tag
    title_heading: Tag | None
    # Whether ``title_heading`` is in a site banner: taken only for want of another <h1>.
    title_in_banner: bool
    _title_holders: frozenset[int]  # id() of each ancestor of ``title_heading``

    def is_chrome(self, tag: Tag) -> bool:
        """Whether ``tag`` is site chrome: dropped tags, plus header/footer/menu/toc-like elements.

        Headings are never chrome; a chrome-looking element holding the page's own ``<h1>`` is
        kept. One holding another ``<h1>`` is not: that is the site's name over every page.
        """
        name = tag.name
        if name in HEADING_LEVELS:
            return False
        if is_dropped(tag):
            return True
        if name not in ("header", "footer") and not _chrome_named(tag):
            return False
        return id(tag) not in self._title_holders


def page_layout(soup: BeautifulSoup) -> Layout:
    """The content root and the page's own ``<h1>``.

    The root is ``<main>``, a single ``<article>``, ``[role=main]`` or ``#content``, else
    ``<body>``. The page's own ``<h1>`` is the first one outside chrome, else the first one
    only inside chrome-named elements (AsciiDoc's ``<div id="header">``); an ``<h1>`` in a
    site banner (a ``<header>`` outside any article, section or main, as the Node.js docs put
    "Node.js documentation") only counts on a page with no content element. When the root
    lacks the page's own ``<h1>``, it widens to the nearest element holding both, so the title
    heading and any text under it are not lost.
    """
    body = soup.body or soup
    found: dict[str, list[Tag]] = {"main": [], "article": [], "role": [], "id": [], "h1": []}
    # One pass over the tree: separate find() calls would each rescan a large page.
    for tag in body.descendants:
        if not isinstance(tag, Tag):
            continue
        if tag.name in ("main", "article", "h1"):
            found[tag.name].append(tag)
        if tag.get("role") == "main":
            found["role"].append(tag)
        if tag.get("id") == "content":
            found["id"].append(tag)
    articles = found["article"] if len(found["article"]) == 1 else []
    candidates = found["main"] or articles or found["role"] or found["id"]
    ranked = _rank_h1s(found["h1"][:_H1_LIMIT], body)
    own = [h1 for level, h1 in ranked if level < _BANNER]
    root: Tag = body
    title: Tag | None = None
    in_banner = False
    if candidates:
        root = candidates[0]
        inside = [h1 for h1 in own if _is_inside(h1, root)]
        if inside:
            title = inside[0]
        elif own:
            title = own[0]
            root = _common_ancestor(title, root) or body
    elif ranked:
        title = ranked[0][1]
        in_banner = ranked[0][0] == _BANNER
    holders = frozenset(id(parent) for parent in title.parents) if title else frozenset[int]()
    return Layout(root, title, in_banner, holders)


def _rank_h1s(h1s: list[Tag], body: Tag) -> list[tuple[int, Tag]]:
    """``(level, h1)`` pairs, best first: 0 outside chrome, 1 in chrome-named elements only,
    ``_BANNER`` in a site banner; an ``<h1>`` in a dropped element is left out."""
    ranked = []
    for order, h1 in enumerate(h1s):
        level = _h1_level(h1, body)
        if level is not None:
            ranked.append((level, order, h1))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [(level, h1) for level, _, h1 in ranked]


def _h1_level(h1: Tag, body: Tag) -> int | None:
    if is_dropped(h1):
        return None
    level = 0
    in_banner = False  # inside a <header>/<footer> that no article, section or main encloses
    for parent in h1.parents:
        if parent is body or not isinstance(parent, Tag):
            break
        if is_dropped(parent):
            return None
        if parent.name in ("header", "footer"):
            in_banner = True
        elif parent.name in _SECTIONING or parent.get("role") == "main":
            in_banner = False
        if parent.name in ("header", "footer") or _chrome_named(parent):
            level = 1
    return _BANNER if in_banner else level


def _is_inside(tag: Tag, ancestor: Tag) -> bool:
    return any(parent is ancestor for parent in tag.parents)


def _common_ancestor(a: Tag, b: Tag) -> Tag | None:
    ancestors_of_a = {id(parent) for parent in a.parents}
    for parent in b.parents:
        if id(parent) in ancestors_of_a:
            return parent if isinstance(parent, Tag) else None
    return None
