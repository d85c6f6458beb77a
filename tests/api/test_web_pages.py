"""The web pages over ASGI: every cited anchor exists, text is escaped, no inline code."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from rag_chatbot.web.routes import STATIC_DIR

pytestmark = pytest.mark.anyio

PAYLOAD = b"""# Payload <b>bold</b>

<script>window.__pwned = 1</script>

The text `<img src=x onerror=alert(1)>` must stay text, and so must "quotes" & ampersands.
"""


class _Page(HTMLParser):
    """What a page holds: ids, scripts, inline styles and event-handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.styles = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if "id" in named and named["id"] is not None:
            self.ids.append(named["id"])
        if tag == "script":
            self.scripts.append(named)
        if tag == "style":
            self.styles += 1
        self.inline += [name for name, _ in attrs if name == "style" or name.startswith("on")]


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


async def test_library_lists_documents_with_their_contents(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    html = response.text
    assert '<a href="/read/lighthouse.md">The Lighthouse Keeper&#39;s Manual</a>' in html
    assert '<a href="/read/lighthouse.md#fog-signals">Fog signals</a>' in html
    assert '<a href="/read/guides/composting.html#turning">Turning the heap</a>' in html


async def test_every_cited_anchor_is_a_heading_id_on_its_page(client: httpx.AsyncClient) -> None:
    questions = [
        "When does the fog horn sound?",
        "Where is paraffin stored?",
        "How often should I turn the compost heap?",
        "How hot should green tea water be?",
    ]
    for question in questions:
        answer = (await client.post("/api/chat", json={"message": question})).json()
        assert answer["citations"], question
        for citation in answer["citations"]:
            path, _, anchor = citation["url"].partition("#")
            page = await client.get(path)
            assert page.status_code == 200
            ids = parse(page.text).ids
            assert not anchor or ids.count(anchor) == 1, (citation["url"], ids)


async def test_document_text_is_escaped_and_pages_have_no_inline_code(
    client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    files = {"file": ("payload.md", PAYLOAD, "text/markdown")}
    assert (await admin_client.post("/api/documents", files=files)).status_code == 202
    html = (await client.get("/read/payload.md")).text
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&#34;quotes&#34; &amp; ampersands" in html
    assert "<img" not in html and "<b>" not in html
    for path in ["/", "/read/payload.md", "/read/lighthouse.md", "/admin", "/read/nope.md"]:
        page = parse((await client.get(path)).text)
        assert page.styles == 0 and page.inline == [], path
        assert page.scripts and all(s.get("src", "").startswith("/static/") for s in page.scripts)


async def test_a_missing_document_is_a_404_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/read/no/such<file>.md")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "no/such&lt;file&gt;.md" in response.text


async def test_widget_and_static_files_may_be_loaded_by_other_sites(
    client: httpx.AsyncClient,
) -> None:
    widget = await client.get("/widget.js")
    assert widget.status_code == 200
    assert widget.headers["content-type"].startswith("text/javascript")
    assert widget.headers["access-control-allow-origin"] == "*"
    module = await client.get("/static/js/chat.js")
    assert module.headers["access-control-allow-origin"] == "*"
    assert module.headers["content-type"].startswith("text/javascript")
    assert (await client.get("/static/%2e%2e/routes.py")).status_code == 404
    assert (await client.get("/static/js/%2e%2e/%2e%2e/routes.py")).status_code == 404
    assert (await client.get("/static/js/nothing.js")).status_code == 404


def test_every_module_import_names_a_file_that_exists() -> None:
    imports = re.compile(r"""(?:from|import)\s*\(?\s*["'](\./[^"']+)["']""")
    for module in (STATIC_DIR / "js").glob("*.js"):
        for target in imports.findall(module.read_text()):
            assert (module.parent / target).is_file(), f"{module.name} imports {target}"
    assert "/static/js/widget-app.js" in Path(STATIC_DIR / "widget.js").read_text()
