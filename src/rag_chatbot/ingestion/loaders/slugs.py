"""Heading anchors as the site generators make them, so a citation can link to the built page.

Each generator turns a heading into an ``id`` by its own rule, and a link only works when ours
is the same string:

- ``github``: this project's long-standing rule for Markdown (``sections.slugify``): lower
  case, characters other than word characters, ``-`` and space dropped, spaces made ``-``;
  repeats get ``-1``, ``-2``. An empty slug becomes ``section``.
- ``docusaurus``: github-slugger 2.0, which Docusaurus uses: the same shape, but it keeps
  letters, combining marks, decimal and letter numbers and connector punctuation and drops
  everything else (``²``, ``½`` included), without trimming; an explicit ``{#custom-id}`` at
  the end of a heading is the id and is left out of the title (Docusaurus does not count it
  when it numbers repeats, so neither do we).
- ``mkdocs``: Python-Markdown's ``toc`` extension with MkDocs' defaults: accents folded to
  ASCII (NFKD), other non-word characters dropped, trimmed, lower case, each run of spaces and
  hyphens made one ``-``; repeats (and an empty slug) get ``_1``, ``_2``.
- ``jupyter``: JupyterLab's ``createHeaderId``: the heading's text with each space made ``-``,
  case and punctuation kept, repeats not numbered (the notebook has the same id twice too).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Literal

from rag_chatbot.ingestion.loaders.sections import Anchors

HeadingIdStyle = Literal["github", "docusaurus", "mkdocs", "jupyter"]
HEADING_ID_STYLES: tuple[HeadingIdStyle, ...] = ("github", "docusaurus", "mkdocs", "jupyter")

# (title as shown, anchor) for one heading's text; a fresh one per document.
HeadingIds = Callable[[str], tuple[str, str]]

# github-slugger removes these general categories (a space becomes "-", a "-" stays) ...
_SLUGGER_DROPS = frozenset(
    {"No", "Pe", "Pf", "Pi", "Ps", "Po", "Pd", "Sc", "Sk", "Sm", "So"}
    | {"Cc", "Cf", "Co", "Cn", "Cs", "Zs", "Zl", "Zp"}
)
# ... except alphabetic symbols: the circled, parenthesized and squared Latin letters.
_ALPHABETIC_SYMBOLS = ((0x24B6, 0x24E9), (0x1F130, 0x1F149), (0x1F150, 0x1F169), (0x1F170, 0x1F189))
# Docusaurus's parseMarkdownHeadingId: "{#id}" closing the heading, the id without "{#" or "}".
_EXPLICIT_ID = re.compile(r"\s*\{#((?:.(?!\{#|\}))*.)\}$")
_MKDOCS_DROP = re.compile(r"[^\w\s-]")
_MKDOCS_SEPARATORS = re.compile(r"[-\s]+")
_MKDOCS_COUNTED = re.compile(r"^(.*)_([0-9]+)$")


def _slugger_keeps(char: str) -> bool:
    if char in "- ":
        return True
    code = ord(char)
    if any(low <= code <= high for low, high in _ALPHABETIC_SYMBOLS):
        return True
    return unicodedata.category(char) not in _SLUGGER_DROPS


def github_slug(text: str, *, maintain_case: bool = False) -> str:
    """github-slugger's ``slug(text)``: not de-duplicated (``GithubSlugger`` numbers repeats)."""
    value = text if maintain_case else text.lower()
    return "".join(c for c in value if _slugger_keeps(c)).replace(" ", "-")


class GithubSlugger:
    """github-slugger's ``BananaSlug``: a repeated slug gets ``-1``, ``-2``, ... in order."""

    def __init__(self) -> None:
        self._occurrences: dict[str, int] = {}

    def slug(self, text: str) -> str:
        original = result = github_slug(text)
        while result in self._occurrences:
            self._occurrences[original] += 1
            result = f"{original}-{self._occurrences[original]}"
        self._occurrences[result] = 0
        return result


def split_explicit_id(title: str) -> tuple[str, str]:
    """``("Title", "custom-id")`` for ``"Title {#custom-id}"``; ``(title, "")`` without one."""
    match = _EXPLICIT_ID.search(title)
    if match is None:
        return title, ""
    return title[: match.start()], match.group(1).strip()


def mkdocs_slug(text: str) -> str:
    """Python-Markdown ``toc.slugify(text, "-")``: not de-duplicated (see ``MkdocsIds``)."""
    value = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    value = _MKDOCS_DROP.sub("", value).strip().lower()
    return _MKDOCS_SEPARATORS.sub("-", value)


class MkdocsIds:
    """Python-Markdown ``toc.unique``: a taken or empty id gets ``_1``, ``_2``, ... ."""

    def __init__(self) -> None:
        self._taken: set[str] = set()
        # Per base, the n for which base_1 .. base_n are all known to be taken: 50,000 equal
        # headings would otherwise try every suffix for each.
        self._known: dict[str, int] = {}

    def __call__(self, title: str) -> tuple[str, str]:
        anchor = mkdocs_slug(title)
        if anchor in self._taken or not anchor:
            counted = _MKDOCS_COUNTED.match(anchor)
            base, count = (counted.group(1), int(counted.group(2))) if counted else (anchor, 0)
            known = self._known.get(base, 0)
            skip = count <= known or anchor == f"{base}_{known + 1}"
            if skip:
                count = max(count, known)
            count += 1
            while f"{base}_{count}" in self._taken:
                count += 1
            anchor = f"{base}_{count}"
            if skip:
                self._known[base] = count
        self._taken.add(anchor)
        return title, anchor


def _github_ids() -> HeadingIds:
    anchors = Anchors()
    return lambda title: (title, anchors.slug(title))


def _docusaurus_ids() -> HeadingIds:
    slugger = GithubSlugger()

    def ids(title: str) -> tuple[str, str]:
        shown, explicit = split_explicit_id(title)
        return (shown.strip(), explicit) if explicit else (title, slugger.slug(title))

    return ids


def _jupyter_ids(title: str) -> tuple[str, str]:
    return title, title.replace(" ", "-")


def heading_ids(style: HeadingIdStyle) -> HeadingIds:
    """A fresh heading-id function for one document, by ``style`` (see the module docstring)."""
    if style == "docusaurus":
        return _docusaurus_ids()
    if style == "mkdocs":
        return MkdocsIds()
    if style == "jupyter":
        return _jupyter_ids
    return _github_ids()
