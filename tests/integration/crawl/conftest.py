"""A copy of part of a real manual (SQLite's HTML pages), served by ``site_server``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from site_server import Site, serve_site

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "eval" / "docs-faq" / "corpus"
SQLITE = CORPUS / "sqlite"


def subset_names() -> list[str]:
    """index.html and 29 other pages, spread over the manual."""
    others = sorted(p.name for p in SQLITE.glob("*.html") if p.name != "index.html")
    return ["index.html", *others[::7][:29]]


@pytest.fixture
def subset(tmp_path: Path) -> Path:
    """~30 pages of the manual, plus one under /private/ (which robots.txt disallows)."""
    folder = tmp_path / "site"
    folder.mkdir()
    for name in subset_names():
        shutil.copyfile(SQLITE / name, folder / name)
    (folder / "private").mkdir()
    page = (SQLITE / "whentouse.html").read_bytes().replace(b"<title>", b"<title>Private: ")
    (folder / "private" / "secret.html").write_bytes(page)
    return folder


@pytest.fixture
def site(subset: Path) -> Iterator[Site]:
    with serve_site(subset) as served:
        yield served
