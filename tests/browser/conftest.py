"""A real `rag-chatbot serve` over a small corpus, a second origin for the widget, and Chromium.

Chromium is Debian's (``/usr/bin/chromium``, installed by scripts/test.sh), driven by
Playwright for Python without ``playwright install``. Screenshots go to the test's tmp dir and,
when ``RAG_CHATBOT_SCREENSHOTS`` names a directory, are copied there too for a person to look at.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from browsing import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    CHROMIUM,
    CHROMIUM_ARGS,
    Shoot,
    Site,
    Watched,
    open_page,
)
from integration.servers import free_port, ingest, start_server, stop
from playwright.sync_api import Browser, Page, sync_playwright
from testing_secrets import TEST_ADMIN_TOKEN, TEST_JWT_SECRET

HERE = Path(__file__).parent
ADMIN_FLAGS = ["--admin", "--password-stdin"]


@pytest.fixture(scope="session")
def browser_corpus(tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path) -> Path:
    """The shared fixture corpus plus this suite's own documents (payloads included)."""
    corpus = tmp_path_factory.mktemp("browser-corpus") / "corpus"
    shutil.copytree(fixture_corpus, corpus)
    shutil.copytree(HERE / "corpus", corpus, dirs_exist_ok=True)
    return corpus


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, browser_corpus: Path) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("browser-site")
    widget_port = free_port()
    widget_origin = f"http://127.0.0.1:{widget_port}"
    env = {
        "ENVIRONMENT": "test",
        "JWT_SECRET_KEY": TEST_JWT_SECRET,
        "ADMIN_TOKEN": TEST_ADMIN_TOKEN,
        "DATA_DIR": str(root / "data"),
        "CORS_ORIGINS": f'["{widget_origin}"]',
        # The limits have tests of their own; every request here comes from one address.
        "RATE_LIMIT_CHAT": "1000/minute",
        "RATE_LIMIT_DEFAULT": "10000/minute",
        "RATE_LIMIT_UPLOAD": "1000/hour",
        "RATE_LIMIT_AUTH": "1000/minute",
    }
    full_env = {**os.environ, **env}
    ingest(browser_corpus, full_env)
    subprocess.run(
        [sys.executable, "-m", "rag_chatbot", "users", "create", ADMIN_USER, *ADMIN_FLAGS],
        input=ADMIN_PASSWORD.encode(),
        env=full_env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    process, base = start_server(root, env)
    host = _serve_widget_host(root / "host", base, widget_port)
    yield Site(base, widget_origin, root)
    host.shutdown()
    stop(process)


def _serve_widget_host(directory: Path, base: str, port: int) -> http.server.ThreadingHTTPServer:
    """Another origin: a page with the widget's script tag and hostile styles of its own."""
    directory.mkdir()
    page = (HERE / "host_page.html").read_text().replace("{{BASE}}", base)
    (directory / "index.html").write_text(page)
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one test module: Playwright's event loop runs while it is open, and
    asyncio tests elsewhere in the session cannot start a loop of their own meanwhile."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Watched]:
    context, watched = open_page(browser)
    yield watched
    context.close()


@pytest.fixture
def shoot(tmp_path: Path) -> Shoot:
    """Save a screenshot of the viewport under the test's tmp dir (and the review dir)."""
    review = os.environ.get("RAG_CHATBOT_SCREENSHOTS")

    def take(page: Page, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path))
        if review:
            Path(review).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(review) / path.name)
        return path

    return take
