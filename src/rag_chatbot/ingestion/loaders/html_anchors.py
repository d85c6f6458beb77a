"""Where a link to an HTML heading should point: an id the page already has, if any.

Citations open ``/read/{source}#{anchor}``; an id that exists in the page scrolls the reader to
the heading, so one is preferred to a generated slug whenever the markup offers it.
"""

from __future__ import annotations

from collections.abc import Iterable

from bs4 import Tag
from bs4.element import PageElement

from rag_chatbot.ingestion.loaders.html_content import attr, is_text

_CLIMB_LIMIT = 4  # wrapper levels searched for an id (DocBook nests headings four deep)


def page_ids(root: Tag) -> set[str]:
    """Every id and ``<a name>`` under ``root``: fragments a generated slug must not reuse."""
    return {
        attr(node, "id") or attr(node, "name")
        for node in root.descendants
        if isinstance(node, Tag) and _has_anchor(node)
    }


def explicit_anchor(heading: Tag, title_nodes: Iterable[PageElement]) -> str:
    """The id a browser would scroll to for this heading, or '' if there is none.

    Tried in order: the heading's id; an id or ``<a name>`` among ``title_nodes`` (the part of
    the heading that is its title, as DocBook writes it); an empty ``<a name>`` just before it
    (SQLite's changelog); the id of a wrapper the heading opens (``<section id=..><h2>``).
    """
    if own := attr(heading, "id"):
        return own
    for node in title_nodes:
        if isinstance(node, Tag):
            inner = node if _has_anchor(node) else node.find(_has_anchor)
            if isinstance(inner, Tag):
                return attr(inner, "id") or attr(inner, "name")
    previous = _previous_element(heading)
    if (
        previous is not None
        and previous.name == "a"
        and not previous.get_text(strip=True)
        and (found := attr(previous, "id") or attr(previous, "name"))
    ):
        return found
    return _opened_wrapper_id(heading)


def _opened_wrapper_id(heading: Tag) -> str:
    node = heading
    for _ in range(_CLIMB_LIMIT):
        parent = node.parent
        if parent is None or parent.name in ("body", "html") or _first_child(parent) is not node:
            break
        if found := attr(parent, "id"):
            return found
        node = parent
    return ""


def _has_anchor(tag: Tag) -> bool:
    return bool(tag.get("id")) or (tag.name == "a" and bool(tag.get("name")))


def _previous_element(tag: Tag) -> Tag | None:
    for sibling in tag.previous_siblings:
        if isinstance(sibling, Tag):
            return sibling
        if is_text(sibling) and sibling.strip():
            return None
    return None


def _first_child(parent: Tag) -> Tag | None:
    for child in parent.children:
        if isinstance(child, Tag):
            return child
        if is_text(child) and child.strip():
            return None
    return None
