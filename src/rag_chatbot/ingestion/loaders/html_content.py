"""Which part of an HTML page is content: the content root and the chrome to leave out.

Site chrome (menus, search boxes, tables of contents, footers) repeats on every page and would
drown the page's own text in search results, so it is recognised by tag, ARIA role, and class or
id words, and skipped. A chrome-looking element that holds an ``<h1>`` is kept: generated docs
(AsciiDoc's ``<div id="header">``) put the page title and its first section there.
"""

from __future__ import annotations

import re
from typing import TypeGuard

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString, PreformattedString

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
    """Whether ``tag`` is never content: scripts, forms, navigation, hidden elements."""
    if tag.name in _DROPPED_TAGS:
        return True
    attrs = tag.attrs
    if "hidden" in attrs or attrs.get("aria-hidden") == "true":
        return True
    return attr(tag, "role").lower() in _CHROME_ROLES


def is_chrome(tag: Tag) -> bool:
    """Whether ``tag`` is site chrome: dropped tags, plus header/footer/menu/toc-like elements.

    Headings are never chrome; a chrome-looking element that contains an ``<h1>`` is kept.
    """
    name = tag.name
    if name in HEADING_LEVELS:
        return False
    if is_dropped(tag):
        return True
    if name not in ("header", "footer") and not _chrome_named(tag):
        return False
    return tag.find("h1") is None


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


def content_root(soup: BeautifulSoup) -> Tag:
    """The element whose text is the page's content.

    Prefers ``<main>``, a single ``<article>``, ``[role=main]`` or ``#content``, else ``<body>``.
    When the chosen element has no ``<h1>`` but the page does, the root widens to the nearest
    element holding both, so the title heading and any text under it are not lost.
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
    if not candidates:
        return body
    candidate = candidates[0]
    if not found["h1"] or candidate.find("h1") is not None:
        return candidate
    return _common_ancestor(found["h1"][0], candidate) or body


def _common_ancestor(a: Tag, b: Tag) -> Tag | None:
    ancestors_of_a = {id(parent) for parent in a.parents}
    for parent in b.parents:
        if id(parent) in ancestors_of_a:
            return parent if isinstance(parent, Tag) else None
    return None
