"""Furniture that documentation generators put inside the content: not text worth indexing.

Sphinx, MkDocs, Docusaurus, the Node.js docs and others give every heading a permalink whose
text is a sign ("¶", "#", "🔗" or nothing), add "[source]" links, copy buttons inside code
blocks and line numbers beside them, and append the site name to every ``<title>``. Indexed as
text, these end every heading path with "#", glue "copy" to the last line of each code block,
and turn code into "1def f():". The rules here recognise them by markup and text, so each
generator needs no rules of its own. A permalink's ``id`` is still read for the section anchor:
only its text is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeGuard

from bs4 import Tag
from bs4.element import NavigableString, PreformattedString

from rag_chatbot.ingestion.loaders.sections import collapse_whitespace

# Text a permalink shows instead of words; zero-width spaces are Docusaurus' hash-link text.
_MARK_CHARS = "#¶§🔗\u200b\ufeff\u00a0 \t\r\n"
_PERMALINK_CLASSES = frozenset(
    {
        "headerlink", "mark", "hash-link", "anchor", "anchorjs-link", "anchor-link",
        "header-anchor", "heading-anchor", "heading-link", "permalink", "header-link",
        "headeranchor", "markdownit-anchor", "toclink", "autolink",
    }
)  # fmt: skip
_SOURCE_LINK_TEXT = frozenset({"[source]", "[src]", "[view source]"})
_SOURCE_LINK_CLASSES = frozenset({"viewcode-link", "srclink", "source-link"})
# Line numbers (Sphinx, Pygments tables, Prism) and copy controls that are not <button>s.
_CODE_FURNITURE_CLASSES = frozenset(
    {
        "linenos", "linenodiv", "lineno", "line-numbers-rows", "copybtn", "copy-button",
        "clipboard-copy", "code-copy", "copy-code-button",
    }
)  # fmt: skip
_TRAILING_MARKS = re.compile(r"(?:\s*[¶§🔗\u200b]|\s+#)+$")
# Separators between a page's name and the site's in <title>, e.g. "Path | Node.js Docs".
_TITLE_SEPARATOR = re.compile(r"\s+(?:\||\u2014|\u2013|-|\u00b7|::|\u00bb)\s+")


def classes(tag: Tag) -> frozenset[str]:
    """The lower-cased class words of ``tag``."""
    value = tag.get("class")
    words = value.split() if isinstance(value, str) else (value or [])
    return frozenset(word.lower() for word in words)


def is_furniture(tag: Tag) -> bool:
    """Whether ``tag`` is a permalink sign, a source link, a copy control or line numbers."""
    css = classes(tag)
    if css & _CODE_FURNITURE_CLASSES:
        return True
    if tag.name == "a":
        text = tag.get_text()
        if _is_mark_text(text):
            href = tag.get("href")
            return bool(css & _PERMALINK_CLASSES) or (isinstance(href, str) and "#" in href)
        return "".join(text.split()).lower() in _SOURCE_LINK_TEXT
    return bool(css & _SOURCE_LINK_CLASSES) and "".join(tag.get_text().split()) == "[source]"


def strip_heading_marks(title: str) -> str:
    """``title`` without a trailing "¶", "§", "🔗" or " #" left by a permalink in plain text.

    A "#" is cut only after a space, so "C#" and "F#" keep theirs.
    """
    return _TRAILING_MARKS.sub("", title).strip()


def page_title(title: str, heading: str) -> str:
    """The page's own name from its ``<title>``, without the site's name.

    ``heading`` is the text of the page's own ``<h1>`` ('' if it has none). A title split by
    separators ("Tools - Orchard Handbook") gives the part equal to the heading; with no
    heading, all but the last part (the site's name). When the heading is the whole title
    ("Pros - Cons") or no part of it, nothing is cut: which part is the site's is unknown.
    """
    title = collapse_whitespace(title)
    heading = heading.casefold()
    parts = _TITLE_SEPARATOR.split(title)
    if len(parts) < 2 or title.casefold() == heading:
        return title
    if heading:
        return next((part for part in parts if part.casefold() == heading), title)
    return title[: list(_TITLE_SEPARATOR.finditer(title))[-1].start()].strip() or title


def code_text(pre: Tag, skip: Callable[[Tag], bool]) -> str:
    """The text of a code block, leaving out elements ``skip`` rejects (buttons, line numbers).

    A ``<code>`` right after another in the ``<pre>`` is an alternative version of the same
    example (Node.js shows CommonJS and ES module code): it starts on its own line. A ``<br>``
    ends a line: highlighters that wrap each line in an element (Docusaurus' Prism) end it so.
    """
    parts: list[str] = []
    after_code = False
    for child in pre.children:
        if isinstance(child, Tag):
            if skip(child):
                continue
            if child.name == "code" and after_code and not parts[-1].endswith("\n"):
                parts.append("\n")
            parts.append(_text_without(child, skip))
            after_code = child.name == "code"
        elif _is_text(child):
            parts.append(str(child))
            after_code = after_code and not child.strip()
    return "".join(parts).strip("\n").rstrip()


def _text_without(node: Tag, skip: Callable[[Tag], bool]) -> str:
    parts: list[str] = []
    stack: list[Tag | str] = [node]
    while stack:  # iterative: highlighted code nests spans deeply on large files
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            continue
        if item.name == "br":
            parts.append("\n")
            continue
        children = list(item.children)
        for child in reversed(children):
            if isinstance(child, Tag):
                if not skip(child):
                    stack.append(child)
            elif _is_text(child):
                stack.append(str(child))
    return "".join(parts)


def _is_text(node: object) -> TypeGuard[NavigableString]:
    # Comments, CDATA and processing instructions are not shown (as in html_content.is_text).
    return isinstance(node, NavigableString) and not isinstance(node, PreformattedString)


def _is_mark_text(text: str) -> bool:
    return not text.strip(_MARK_CHARS)
