"""How much markup a loader may turn into a tree, counted before any library builds one.

A tree costs memory per node, whatever the file weighs: 189 MB of ``<w:p/>`` compresses to a
276 KB DOCX and became a 4 GB python-docx tree. So every markup stream is first run through
lxml's pull parser — the same libxml2 parser, in the same mode, that the library will use —
counting nodes and discarding each one as soon as it is counted, so the count itself holds
almost nothing; a stream over the limit is refused before the real parse starts.

The limits leave real documents far inside them. A 1,000-page manual written in Word has about
25 paragraphs a page at 10 to 30 elements each (paragraph and run properties, runs, text): a few
hundred thousand elements in 20 to 50 MB of XML. A whole book in one XHTML or HTML file has about
30,000 paragraphs, a few elements each. The costs were measured here: python-docx's lxml tree
takes about 130 bytes an element, BeautifulSoup's about 500; at the limits below, one document
costs at most about 270 MB (DOCX) or 250 MB (HTML, an EPUB chapter) of tree on top of the
server's ~500 MB, well under the 2 GiB a production container is given.
"""

from __future__ import annotations

import contextlib

from lxml import etree

from rag_chatbot.errors import IngestionError

# Nodes (elements, comments, processing instructions) in one XML part of a DOCX, or one part of
# an EPUB read with lxml (package document, navigation).
MAX_XML_NODES = 2_000_000
# Nodes in one page read with BeautifulSoup: an HTML file, an EPUB chapter, Markdown's HTML.
MAX_HTML_NODES = 500_000

_CHUNK = 64 * 1024
_EVENTS = ("end", "comment", "pi")


class MarkupCounter:
    """Counts the nodes of one markup stream fed in pieces, as lxml's parser finds them.

    ``html`` selects lxml's HTML parser, else its XML parser in recovery mode (it reads at
    least as far as a strict parse would). Entities are not expanded, no DTD or network
    access happens, and libxml2's own limits on depth and text size stay on (no huge_tree).
    ``feed`` returns the running count and stops counting once it is over ``limit``.
    """

    def __init__(self, *, html: bool, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self._parser: etree.XMLPullParser | etree.HTMLPullParser
        if html:
            self._parser = etree.HTMLPullParser(events=_EVENTS, huge_tree=False, no_network=True)
        else:
            self._parser = etree.XMLPullParser(
                events=_EVENTS,
                recover=True,
                resolve_entities=False,
                load_dtd=False,
                huge_tree=False,
                no_network=True,
            )

    @property
    def over(self) -> bool:
        return self.count > self.limit

    def feed(self, data: bytes | str) -> int:
        if self.over:
            return self.count
        try:
            self._parser.feed(data)
        except etree.LxmlError:
            return self.count  # not markup, or broken: the library that parses it will say so
        self._drain()
        return self.count

    def close(self) -> int:
        if not self.over:
            with contextlib.suppress(etree.LxmlError):  # not markup: see ``feed``
                self._parser.close()
            self._drain()
        return self.count

    def _drain(self) -> None:
        for event, node in self._parser.read_events():
            self.count += 1
            if self.count > self.limit:
                return
            if event == "end":
                # Drop what was counted: the element's content and the siblings before it.
                node.clear(keep_tail=True)
                parent = node.getparent()
                while parent is not None and node.getprevious() is not None:
                    del parent[0]


def check_markup(data: bytes | str, what: str, *, html: bool, limit: int = MAX_HTML_NODES) -> None:
    """Raise ``IngestionError`` naming ``what`` if ``data`` holds more than ``limit`` nodes."""
    counter = MarkupCounter(html=html, limit=limit)
    for start in range(0, len(data), _CHUNK):
        if counter.feed(data[start : start + _CHUNK]) > limit:
            break
    else:
        counter.close()
    if counter.over:
        raise IngestionError(too_many_nodes(what, limit))


def too_many_nodes(what: str, limit: int) -> str:
    return f"{what} has more than {limit:,} elements, over the limit for one part"
