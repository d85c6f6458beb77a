"""A real website on 127.0.0.1 for crawler tests: files from a folder, plus controls.

A Starlette app served by uvicorn in a thread, on a free port::

    from site_server import serve_site

    with serve_site(folder) as site:        # folder: its files are the pages (optional);
                                            # tls=(cert, key) serves HTTPS
        site.url                            # "http://127.0.0.1:PORT"
        site.url_of("about.html")           # "http://127.0.0.1:PORT/about.html"
        ...crawl site.url (allowed_hosts=("127.0.0.1",)) or site.url_of("sitemap.xml")...

What it serves:

- every file of ``folder`` at its relative path (a path ending in ``/`` serves its
  ``index.html``; ``/`` without one is a page linking to every page), with a strong ``ETag``
  and ``Last-Modified``, answering ``If-None-Match`` (first) or ``If-Modified-Since`` with 304;
- ``/robots.txt``: ``site.robots`` with ``{url}`` replaced by the base URL (None: 404). The
  default disallows ``/private/`` and names ``/sitemap.xml``;
- ``/sitemap.xml``: every page, with ``<lastmod>`` (its modification time) unless
  ``site.lastmod`` is False; ``/sitemap_index.xml``: an index of ``/sitemaps/part-1.xml.gz``
  (gzip) and ``/sitemaps/part-2.xml``, half of the pages each.

Controls (callable from the test's thread at any time; paths have no leading slash, "" is
the root):

- ``add(path, body, content_type=None)``, ``change(path, body)``: a page, new or new content
  (new ETag, Last-Modified and lastmod); ``remove(path, status=404)``: 404 (or 410) from now on.
- ``fail(path, times=1, status=500, retry_after=None)``: answer ``status`` that many times,
  then normally. ``slow(path, seconds)``: wait before answering.
- ``redirect(path, target, status=302)``: ``target`` is a path or an absolute URL.
- ``big(path, size, content_length=True)``: an HTML body of ``size`` bytes, streamed;
  ``site.sent[path]`` counts the bytes written until the server saw the client hang up.

What it saw: ``site.hits`` (every request, in arrival order: ``Hit(path, etag, since,
status, started, host)``), ``site.count(path)``, ``site.conditional(path)`` (requests that
carried a validator), ``site.reset()`` (forget the hits), ``site.max_in_flight`` (most
requests at once), ``site.starts`` (monotonic arrival times).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

DEFAULT_ROBOTS = "User-agent: *\nDisallow: /private/\n\nSitemap: {url}/sitemap.xml\n"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".xml": "application/xml",
}


@dataclass
class Hit:
    path: str  # without the leading slash
    etag: str | None  # If-None-Match
    since: str | None  # If-Modified-Since
    status: int = 0
    started: float = 0.0  # time.monotonic() on arrival
    host: str = ""  # the Host header


@dataclass
class SitePage:
    body: bytes
    content_type: str
    modified: datetime

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'


@dataclass
class Site:
    """The served site and its controls (see the module docstring)."""

    url: str = ""
    pages: dict[str, SitePage] = field(default_factory=dict)
    robots: str | None = DEFAULT_ROBOTS
    lastmod: bool = True
    hits: list[Hit] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)
    max_in_flight: int = 0
    _gone: dict[str, int] = field(default_factory=dict)
    _failures: dict[str, tuple[int, int, int | None]] = field(default_factory=dict)
    _slow: dict[str, float] = field(default_factory=dict)
    _redirects: dict[str, tuple[str, int]] = field(default_factory=dict)
    _big: dict[str, tuple[int, bool]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _in_flight: int = 0

    def url_of(self, path: str) -> str:
        return f"{self.url}/{path.lstrip('/')}"

    def add(self, path: str, body: bytes | str, content_type: str | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        kind = content_type or TYPES.get(Path(path).suffix.lower(), "application/octet-stream")
        self.pages[path.lstrip("/")] = SitePage(data, kind, datetime.now(UTC))
        self._gone.pop(path.lstrip("/"), None)

    def change(self, path: str, body: bytes | str) -> None:
        self.add(path, body, self.pages[path.lstrip("/")].content_type)

    def remove(self, path: str, status: int = 404) -> None:
        self.pages.pop(path.lstrip("/"), None)
        self._gone[path.lstrip("/")] = status

    def fail(
        self, path: str, times: int = 1, status: int = 500, retry_after: int | None = None
    ) -> None:
        self._failures[path.lstrip("/")] = (times, status, retry_after)

    def slow(self, path: str, seconds: float) -> None:
        self._slow[path.lstrip("/")] = seconds

    def redirect(self, path: str, target: str, status: int = 302) -> None:
        self._redirects[path.lstrip("/")] = (target, status)

    def big(self, path: str, size: int, content_length: bool = True) -> None:
        self._big[path.lstrip("/")] = (size, content_length)

    def count(self, path: str) -> int:
        return sum(1 for hit in self.hits if hit.path == path.lstrip("/"))

    def conditional(self, path: str) -> int:
        path = path.lstrip("/")
        return sum(1 for hit in self.hits if hit.path == path and (hit.etag or hit.since))

    @property
    def starts(self) -> list[float]:
        return [hit.started for hit in self.hits]

    def reset(self) -> None:
        with self._lock:
            self.hits.clear()
            self.max_in_flight = 0

    def _sitemap(self, paths: list[str]) -> bytes:
        rows = []
        for path in paths:
            page = self.pages[path]
            lastmod = f"<lastmod>{page.modified.isoformat()}</lastmod>" if self.lastmod else ""
            rows.append(f"<url><loc>{escape(self.url_of(path))}</loc>{lastmod}</url>")
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            + "\n".join(rows)
            + "\n</urlset>\n"
        ).encode()

    def _special(self, path: str) -> Response | None:
        """robots.txt, the sitemaps and the generated home page."""
        listed = sorted(self.pages)
        half = len(listed) // 2
        if path == "robots.txt":
            if self.robots is None:
                return Response(b"no robots here", 404)
            return Response(self.robots.replace("{url}", self.url), media_type="text/plain")
        if path == "sitemap.xml":
            return Response(self._sitemap(listed), media_type="application/xml")
        if path == "sitemap_index.xml":
            parts = [self.url_of("sitemaps/part-1.xml.gz"), self.url_of("sitemaps/part-2.xml")]
            body = "".join(f"<sitemap><loc>{escape(u)}</loc></sitemap>" for u in parts)
            index = f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}'
            return Response(index + "</sitemapindex>", media_type="application/xml")
        if path == "sitemaps/part-1.xml.gz":
            data = gzip.compress(self._sitemap(listed[:half]))
            return Response(data, media_type="application/gzip")
        if path == "sitemaps/part-2.xml":
            return Response(self._sitemap(listed[half:]), media_type="application/xml")
        if path == "" and "index.html" not in self.pages:
            links = "".join(f'<li><a href="/{p}">{escape(p)}</a></li>' for p in listed)
            return Response(f"<html><body><ul>{links}</ul></body></html>", media_type="text/html")
        return None

    async def _answer(self, request: Request, path: str) -> Response:
        if path in self._slow:
            await asyncio.sleep(self._slow[path])
        if path in self._failures:
            times, status, retry_after = self._failures[path]
            if times > 0:
                self._failures[path] = (times - 1, status, retry_after)
                headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
                return Response(b"failing on purpose", status, headers=headers)
        if path in self._redirects:
            target, status = self._redirects[path]
            location = target if "://" in target else self.url_of(target)
            return Response(b"", status, headers={"location": location})
        if path in self._big:
            return self._stream(request, path, *self._big[path])
        special = self._special(path)
        if special is not None:
            return special
        page = self.pages.get(path + "index.html" if path == "" or path.endswith("/") else path)
        if page is None:
            return Response(b"not here", self._gone.get(path, 404))
        return _conditional(request, page)

    def _stream(self, request: Request, path: str, size: int, content_length: bool) -> Response:
        self.sent[path] = 0

        async def body() -> AsyncIterator[bytes]:
            chunk = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>\n"
            left = size
            # The server writes into its buffers regardless; stopping when the client has
            # hung up makes ``sent`` the bytes that were on their way when it did.
            while left > 0 and not await request.is_disconnected():
                piece = chunk[:left]
                left -= len(piece)
                self.sent[path] += len(piece)
                yield piece

        headers = {"content-length": str(size)} if content_length else {}
        return StreamingResponse(body(), media_type="text/html", headers=headers)

    async def handle(self, request: Request) -> Response:
        path = request.url.path.lstrip("/")
        hit = Hit(
            path,
            request.headers.get("if-none-match"),
            request.headers.get("if-modified-since"),
            started=time.monotonic(),
            host=request.headers.get("host", ""),
        )
        with self._lock:
            self.hits.append(hit)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            response = await self._answer(request, path)
            hit.status = response.status_code
            return response
        finally:
            with self._lock:
                self._in_flight -= 1


def _conditional(request: Request, page: SitePage) -> Response:
    modified = page.modified.replace(microsecond=0)
    headers = {"etag": page.etag, "last-modified": format_datetime(modified, usegmt=True)}
    match = request.headers.get("if-none-match")
    since = request.headers.get("if-modified-since")
    if match is not None:
        if page.etag in [tag.strip().removeprefix("W/") for tag in match.split(",")]:
            return Response(status_code=304, headers=headers)
    elif since is not None:
        try:
            if modified <= parsedate_to_datetime(since):
                return Response(status_code=304, headers=headers)
        except (TypeError, ValueError):
            pass
    return Response(page.body, headers=headers, media_type=page.content_type)


def load_folder(site: Site, folder: Path) -> None:
    """Every file under ``folder`` as a page, modified an hour ago."""
    earlier = datetime.now(UTC) - timedelta(hours=1)
    for file in sorted(folder.rglob("*")):
        if file.is_file():
            path = file.relative_to(folder).as_posix()
            kind = TYPES.get(file.suffix.lower(), "application/octet-stream")
            site.pages[path] = SitePage(file.read_bytes(), kind, earlier)


@contextmanager
def serve_site(folder: Path | None = None, tls: tuple[Path, Path] | None = None) -> Iterator[Site]:
    """Serve ``folder`` (and the controls) on 127.0.0.1 until the block ends.

    ``tls``: a certificate and key file to serve HTTPS with (``site.url`` is then https).
    """
    site = Site()
    if folder is not None:
        load_folder(site, folder)
    app = Starlette(routes=[Route("/{path:path}", site.handle)])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    scheme = "https" if tls else "http"
    site.url = f"{scheme}://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test site did not start")
        time.sleep(0.01)
    try:
        yield site
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
