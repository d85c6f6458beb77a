"""MDX files (``.mdx``, Docusaurus pages): Markdown with JSX, read as the Markdown they hold.

An MDX page is Markdown plus ``import``/``export`` statements, JSX components and
``{expressions}``, and Docusaurus adds admonitions (``:::note Title`` ... ``:::``). Code is
not text a reader asks about, but the text a component wraps is (``<TabItem label="npm">`` holds
the npm instructions), so ``mdx_to_markdown`` drops the statements, expressions and tags,
keeps what the tags enclose and a tab's ``label``/``title``/``alt``, writes an admonition's
opening as a line of text ("Tip: Title") and leaves fenced code and inline code untouched. The
Markdown loader then reads the result, with Docusaurus's heading ids (``slugs``).
"""

from __future__ import annotations

import dataclasses
import re

from markdown_it import MarkdownIt

from rag_chatbot.domain import LoadedDocument
from rag_chatbot.ingestion.loaders.markdown import MarkdownLoader, front_matter
from rag_chatbot.ingestion.loaders.sections import empty_document
from rag_chatbot.ingestion.loaders.text import decode_text

_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})")
# An ESM statement: it must look like JavaScript, so a paragraph starting "import" stays text.
_ESM = re.compile(
    r"import\s*[{*]|import\s+(?:[\w$]+(?:\s*,\s*[{*][^\n]*)?\s+from\s+)?['\"]"
    r"|export\s+(?:default|const|let|var|function|class|async|[{*])"
)
_ADMONITION = re.compile(r"[ \t]*:{3,}[ \t]*([A-Za-z][\w-]*)?[ \t]*(?:\[([^\]\n]*)\])?[ \t]*(.*)$")
# A brace expression up to three levels deep: {a}, {{a: 1}}, {[{label: 'x'}]}.
_BRACES = r"\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}"
_PROSE = re.compile(
    r"(?P<code>(`+)[\s\S]*?(?<!`)\2(?!`))"
    r"|(?P<autolink><(?P<url>(?:https?|mailto):[^<>\s]+)>)"
    r"|(?P<tag></?(?:[A-Za-z][\w.:-]*(?P<attrs>(?:[^<>{}\"']|\"[^\"]*\"|'[^']*'|"
    + _BRACES
    + r")*?))?/?>)"
    r"|(?P<explicit_id>\\?\{#[^{}\n]*?\\?\}[ \t]*$)"
    r"|(?P<expression>" + _BRACES + r")",
    re.MULTILINE,
)
_SHOWN_ATTRIBUTE = re.compile(r"\b(?:label|title|alt)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
# Where a tag stood; a line left with nothing else becomes its own block (or a blank line).
_MARK = "\x00"
_MARKED = re.compile(f"{_MARK}([^{_MARK}]*){_MARK}")
_KINDS = {"info": "Info", "tip": "Tip", "note": "Note", "caution": "Caution", "danger": "Danger"}


class MdxLoader:
    """Loads ``.mdx`` files.

    Title: front matter ``title``, else the first level-1 heading, else ``sidebar_label``,
    else the file name; ``slug`` as for Markdown (front matter ``slug``, else ``id``). Anchors
    are Docusaurus's: github-slugger, or an explicit ``{#custom-id}``.
    """

    media_type = "text/mdx"

    def __init__(self) -> None:
        # MDX has no indented code blocks: JSX children are indented and stay text.
        parser = MarkdownIt("commonmark").enable(["table", "strikethrough"]).disable("code")
        self._markdown = MarkdownLoader("docusaurus", parser=parser)

    def load(self, data: bytes, name: str) -> LoadedDocument:
        text = decode_text(data)
        if not text.strip():
            return empty_document(name, self.media_type)
        fields, body = front_matter(text)
        document = self._markdown.document(
            mdx_to_markdown(body), name, fields, fallback_title=fields.get("sidebar_label", "")
        )
        return dataclasses.replace(document, media_type=self.media_type)


def mdx_to_markdown(text: str) -> str:
    """The Markdown of an MDX body (no front matter): see the module docstring."""
    out: list[str] = []
    prose: list[str] = []
    lines = text.replace(_MARK, "").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence is None and _ESM.match(line) and (not prose or not prose[-1].strip()):
            i = _skip_statement(lines, i)
            continue
        if fence is None:
            prose.append(_admonition(line))
            i += 1
            continue
        out.append(_prose(prose))
        prose = []
        end = _fence_end(lines, i, fence.group(1))
        out.append("\n".join(lines[i : end + 1]))
        i = end + 1
    out.append(_prose(prose))
    return "\n".join(part for part in out if part)


def _skip_statement(lines: list[str], start: int) -> int:
    """The index after an ESM block: up to a blank line, once its brackets are closed."""
    depth = 0
    i = start
    while i < len(lines):
        line = lines[i]
        if not line.strip() and depth <= 0:
            break
        depth += sum(line.count(c) for c in "([{") - sum(line.count(c) for c in ")]}")
        i += 1
    return i


def _fence_end(lines: list[str], start: int, marker: str) -> int:
    """The index of the line closing the fence opened at ``start`` (the last line if none)."""
    closing = re.compile(rf"[ \t]*{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$")
    for j in range(start + 1, len(lines)):
        if closing.match(lines[j]):
            return j
    return len(lines) - 1


def _admonition(line: str) -> str:
    """An admonition's opening as a line of text ("Note: Title"); its closing as a blank."""
    match = _ADMONITION.match(line)
    if match is None:
        return line
    kind, bracketed, rest = match.groups()
    if not kind:
        return ""
    label = _KINDS.get(kind.lower(), kind.capitalize())
    title = (bracketed or rest).strip()
    return f"\n{label}: {title}\n" if title else f"\n{label}:\n"


def _prose(lines: list[str]) -> str:
    """Markdown lines outside fenced code, with JSX, expressions and comments taken out."""
    if not lines:
        return ""
    text = _PROSE.sub(_replace, _without_comments("\n".join(lines)))
    return "\n".join(_settle(line) for line in text.split("\n"))


def _without_comments(text: str) -> str:
    """``text`` without HTML comments (their line breaks kept); an unclosed one runs to the end.

    A scan rather than a regular expression: a lazy ``<!--.*?-->`` tried at each of many
    unclosed openings takes quadratic time.
    """
    parts: list[str] = []
    position = 0
    while (start := text.find("<!--", position)) >= 0:
        end = text.find("-->", start + 4)
        stop = len(text) if end < 0 else end + 3
        parts += [text[position:start], "\n" * text.count("\n", start, stop)]
        position = stop
    parts.append(text[position:])
    return "".join(parts)


def _replace(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind in ("code", "explicit_id"):
        return match.group(0)
    if kind == "autolink":
        return match.group("url")
    if kind == "tag":
        shown = _SHOWN_ATTRIBUTE.search(match.group("attrs") or "")
        label = (shown.group(1) or shown.group(2) or "") if shown else ""
        # A tag may span lines; keep its line breaks so the lines around it stay apart.
        breaks = "\n" * match.group(0).count("\n")
        return f"{_MARK}{' '.join(label.split())}{_MARK}{breaks}"
    return "\n" * match.group(0).count("\n")  # expressions


def _settle(line: str) -> str:
    """A line with tags taken out: labels inline, or a line of tags alone as its own block."""
    if _MARK not in line:
        return line
    if _MARKED.sub("", line).strip():
        return _MARKED.sub(lambda m: f"{m.group(1)} " if m.group(1) else "", line)
    labels = " ".join(label for label in _MARKED.findall(line) if label)
    return f"\n{labels}\n" if labels else ""
