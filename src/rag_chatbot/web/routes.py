"""The web pages: library (``/``), reader (``/read/{source}``), admin, the widget script, /static.

Pages are rendered on the server from the database with Jinja2 (autoescaping on: a document's
text is always text, never markup). The browser side is plain ES modules and CSS under
``/static`` — no inline scripts or styles, so the pages run under a strict
Content-Security-Policy. ``/widget.js`` and ``/static`` may be loaded by other sites (the
embeddable widget), so they carry ``Access-Control-Allow-Origin: *``; they are public files.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag_chatbot import __version__
from rag_chatbot.dependencies import DocumentRepositoryDep, DocumentsDep
from rag_chatbot.ingestion.loaders import SUPPORTED_EXTENSIONS
from rag_chatbot.web.rendering import document_view, outline_entries

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
# The library page lists this many documents; the rest are counted.
LIBRARY_LIMIT = 500
_PAGE_HEADERS = {"Cache-Control": "no-cache"}
_PUBLIC_ASSET_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"cross-origin-resource-policy", b"cross-origin"),
    (b"cache-control", b"no-cache"),
]

_templates = Environment(
    loader=FileSystemLoader(WEB_DIR / "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

router = APIRouter(include_in_schema=False)


def _page(template: str, status_code: int = 200, **context: object) -> HTMLResponse:
    html = _templates.get_template(template).render(version=__version__, **context)
    return HTMLResponse(html, status_code=status_code, headers=_PAGE_HEADERS)


@router.get("/", response_class=HTMLResponse)
def library(repo: DocumentRepositoryDep) -> HTMLResponse:
    """Every indexed document with its table of contents."""
    documents = repo.list_documents(limit=LIBRARY_LIMIT)
    documents.sort(key=lambda d: (d.title or d.source).lower())
    outlines = repo.outlines(d.id for d in documents if d.status == "completed")
    entries = {d.id: outline_entries(d.title, outlines.get(d.id, [])) for d in documents}
    total = repo.count_documents()
    return _page(
        "library.html",
        page="library",
        documents=documents,
        outlines=entries,
        more=max(total - len(documents), 0),
    )


@router.get("/read/{source:path}", response_class=HTMLResponse)
def read(source: str, repository: DocumentRepositoryDep) -> HTMLResponse:
    """One document, every section under a heading whose ``id`` is the section's anchor."""
    row = repository.get_by_source(source)
    if row is None:
        return _page("missing.html", status_code=404, page="missing", source=source)
    view = document_view(row.title or row.source, repository.chunks_of(row.id))
    return _page("reader.html", page="reader", document=row, view=view)


@router.get("/admin", response_class=HTMLResponse)
def admin(documents: DocumentsDep) -> HTMLResponse:
    """Sign-in, uploads, documents and the cache; the page calls the admin API."""
    return _page(
        "admin.html",
        page="admin",
        accept=",".join(sorted(SUPPORTED_EXTENSIONS)),
        max_upload_bytes=documents.max_upload_bytes,
    )


@router.api_route("/widget.js", methods=["GET", "HEAD"])
def widget_script() -> FileResponse:
    """The embeddable chat bubble: ``<script src="https://HOST/widget.js" data-...>``."""
    return FileResponse(
        STATIC_DIR / "widget.js",
        media_type="text/javascript",
        headers={k.decode(): v.decode() for k, v in _PUBLIC_ASSET_HEADERS},
    )


class PublicAssets:
    """Static files that any origin may load (the widget imports its modules and styles)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"cache-control"]
                message["headers"] = headers + _PUBLIC_ASSET_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


router.mount("/static", PublicAssets(StaticFiles(directory=STATIC_DIR)), name="static")
