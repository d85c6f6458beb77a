"""``rag-chatbot ingest URL`` as a user runs it: a crawl, a re-crawl, kill -9, bad input."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clirun import clean_environment, cli
from site_server import Site, serve_site

pytestmark = pytest.mark.integration

ALLOWED = {"CRAWL_ALLOWED_HOSTS": "127.0.0.1", "CRAWL_RATE": "200"}
PAGES = 24


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    folder = tmp_path / "site"
    folder.mkdir()
    for i in range(PAGES):
        sections = "".join(
            f"<h2 id='topic-{j}'>Topic {i}-{j}</h2><p>"
            + " ".join(f"Fact {i}.{j}.{k} about subject {i}." for k in range(30))
            + "</p>"
            for j in range(3)
        )
        (folder / f"page{i:02d}.html").write_text(
            f"<html><head><title>Page {i}</title></head><body><h1>Page {i}</h1>{sections}"
            "</body></html>"
        )
    with serve_site(folder) as served:
        served.lastmod = False  # every page is asked for again: the re-crawl is conditional
        yield served


def _documents(db: Path) -> set[str]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return {row[0] for row in conn.execute("SELECT source FROM documents")}
    except sqlite3.Error:
        return set()


def test_a_site_crawled_then_crawled_again_from_the_command_line(
    site: Site, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = json.loads(cli("ingest", site.url + "/", "--json", data_dir=data, **ALLOWED).stdout)
    assert first["added"] == PAGES + 1 and first["failed"] == 0  # the pages and "/"

    site.change(
        "page03.html",
        b"<html><head><title>Page 3</title></head><body>"
        b"<h1>Page 3</h1><p>Lighthouse keepers trim the wick at dusk.</p></body></html>",
    )
    again = cli("ingest", site.url + "/", "--json", data_dir=data, **ALLOWED)
    report = json.loads(again.stdout)
    assert (report["updated"], report["unchanged"], report["added"]) == (1, PAGES, 0)

    answer = json.loads(cli("ask", "When is the wick trimmed?", "--json", data_dir=data).stdout)
    assert answer["grounded"]
    assert answer["citations"][0]["url"].startswith(site.url_of("page03.html"))


def test_a_crawl_killed_mid_run_then_rerun_leaves_no_duplicate_and_no_orphan(
    site: Site, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    for i in range(PAGES):
        site.slow(f"page{i:02d}.html", 0.3)
    process = subprocess.Popen(
        [sys.executable, "-m", "rag_chatbot", "ingest", site.url + "/", "--json"],
        env={**clean_environment(), "DATA_DIR": str(data), **ALLOWED},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = data / "rag-chatbot.db"
    deadline = time.monotonic() + 120
    while len(_documents(db)) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    before = _documents(db)
    assert 3 <= len(before) < PAGES, "the kill must land in the middle of the crawl"

    result = cli("ingest", site.url + "/", "--json", data_dir=data, **ALLOWED)
    assert result.returncode == 0, result.stderr
    rerun = json.loads(result.stdout)
    assert rerun["failed"] == 0 and rerun["added"] + rerun["unchanged"] == PAGES + 1
    assert len(_documents(db)) == PAGES + 1

    from rag_chatbot.config import Settings
    from rag_chatbot.container import build_container

    container = build_container(Settings(data_dir=data))  # type: ignore[call-arg]
    try:
        assert container.store.ids() == container.repository.all_chunk_ids()
    finally:
        container.close()


def test_bad_crawl_input_is_one_line_and_loses_nothing(site: Site, tmp_path: Path) -> None:
    data = tmp_path / "data"
    refused = cli("ingest", site.url + "/", data_dir=data)  # loopback, not allowed
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"error: cannot crawl {site.url}/: 127.0.0.1 is a loopback address; add it to "
        "CRAWL_ALLOWED_HOSTS to crawl it"
    ]
    cli("ingest", site.url + "/", data_dir=data, **ALLOWED)
    kept = _documents(data / "rag-chatbot.db")
    assert len(kept) == PAGES + 1

    for args, message in (
        (("--every", "5s"), "--every must be at least a minute"),
        (("--every", "daily"), "--every must be a number and a unit"),
    ):
        bad = cli("ingest", site.url + "/", *args, data_dir=data, **ALLOWED)
        assert bad.returncode != 0 and message in bad.stderr
    folder = cli("ingest", str(tmp_path / "site"), "--max-pages", "3", data_dir=data)
    assert "apply to URLs only" in folder.stderr and folder.returncode != 0

    site.fail("", times=10, status=503)  # the start page down: nothing pruned
    down = cli("ingest", site.url + "/", "--json", data_dir=data, **ALLOWED)
    assert down.returncode != 0 and len(down.stderr.strip().splitlines()) == 1
    assert _documents(data / "rag-chatbot.db") == kept
