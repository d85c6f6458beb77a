"""What goes wrong on real sites, each reported on its page with a reason; and the safety rules.

Every failure here is served for real by ``site_server`` on 127.0.0.1: loops, a 50 MB body,
a slow page, a flaky one, redirects to a private address and to another host.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from crawling import by_url, crawl, options
from site_server import Site, serve_site

from rag_chatbot.crawl import Crawler, CrawlOptions, Page
from rag_chatbot.crawl.safety import AddressPolicy
from rag_chatbot.errors import IngestionError

pytestmark = pytest.mark.integration

MB = 1024 * 1024


def crawl_links(site: Site, targets: list[str], **chosen: object) -> dict[str, Page]:
    """Crawl a start page linking to ``targets`` (paths or URLs); pages by URL."""
    links = "".join(f'<a href="{target}">{target}</a>' for target in targets)
    site.add("index.html", f"<html><title>Start</title><body>{links}</body></html>")
    site.robots = None
    pages, summary = crawl(site.url + "/", options(**chosen))
    assert summary.complete
    return by_url(pages)


def test_redirect_loops_and_long_chains_fail_with_a_reason() -> None:
    with serve_site() as site:
        site.redirect("loop-a", "loop-b")
        site.redirect("loop-b", "loop-a")
        for hop in range(12):
            site.redirect(f"chain-{hop}", f"chain-{hop + 1}")
        site.add("chain-12", "<p>the end</p>", "text/html")
        site.redirect("moved", "final.html", status=301)
        site.add("final.html", "<p>moved here</p>")
        found = crawl_links(site, ["loop-a", "chain-0", "moved"])
    loop = found[site.url_of("loop-a")]
    assert loop.status == "failed"
    assert loop.reason == (
        f"redirect loop: {site.url_of('loop-a')} -> {site.url_of('loop-b')} -> "
        f"{site.url_of('loop-a')}"
    )
    chain = found[site.url_of("chain-0")]
    assert chain.status == "failed" and chain.reason.startswith("more than 10 redirects")
    moved = found[site.url_of("final.html")]
    assert moved.status == "fetched" and moved.content == b"<p>moved here</p>"
    assert site.url_of("moved") not in found  # the redirect's source is not a page


def test_a_50_mb_body_is_abandoned_without_being_read(tmp_path: object) -> None:
    with serve_site() as site:
        site.big("declared.html", 50 * MB, content_length=True)
        site.big("streamed.html", 50 * MB, content_length=False)
        found = crawl_links(site, ["declared.html", "streamed.html"], max_bytes=4 * MB)
        declared, streamed = (
            found[site.url_of("declared.html")],
            found[site.url_of("streamed.html")],
        )
        assert (declared.status, declared.reason) == (
            "skipped",
            "larger than 4 MiB (Content-Length 50 MiB); not downloaded",
        )
        assert (streamed.status, streamed.reason) == (
            "skipped",
            "larger than 4 MiB; download abandoned",
        )
        time.sleep(0.5)  # let the server notice the hang-ups
        assert site.sent["declared.html"] < 20 * MB
        assert site.sent["streamed.html"] < 20 * MB


def test_a_slow_page_times_out_and_the_crawl_goes_on() -> None:
    with serve_site() as site:
        site.add("slow.html", "<p>slow</p>")
        site.slow("slow.html", 3)
        site.add("quick.html", "<p>quick</p>")
        started = time.monotonic()
        found = crawl_links(site, ["slow.html", "quick.html"], timeout=0.5, retries=1)
        assert time.monotonic() - started < 3
    slow = found[site.url_of("slow.html")]
    assert (slow.status, slow.reason) == ("failed", "timed out after 0.5 s (2 attempts)")
    assert found[site.url_of("quick.html")].status == "fetched"
    assert site.count("slow.html") == 2


def test_a_server_error_is_retried_and_retry_after_is_honoured() -> None:
    with serve_site() as site:
        site.add("flaky.html", "<p>second time lucky</p>")
        site.fail("flaky.html", times=1, status=500)
        site.add("busy.html", "<p>busy</p>")
        site.fail("busy.html", times=5, status=503, retry_after=1)
        found = crawl_links(site, ["flaky.html", "busy.html"], retries=1)
    flaky = found[site.url_of("flaky.html")]
    assert flaky.status == "fetched" and flaky.content == b"<p>second time lucky</p>"
    assert [h.status for h in site.hits if h.path == "flaky.html"] == [500, 200]
    busy = found[site.url_of("busy.html")]
    assert (busy.status, busy.reason) == ("failed", "HTTP 503 Service Unavailable (2 attempts)")
    first, second = (h.started for h in site.hits if h.path == "busy.html")
    assert second - first >= 0.95  # Retry-After: 1


def test_other_statuses_and_types_are_reported() -> None:
    with serve_site() as site:
        site.add("logo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000)
        site.add("notes.md", "# Notes\n\nplain markdown", "text/plain")
        site.add("gone.html", "<p>soon gone</p>")
        site.remove("gone.html", status=410)
        site.fail("forbidden.html", times=99, status=403)
        found = crawl_links(site, ["logo.png", "notes.md", "gone.html", "forbidden.html"])
    logo = found[site.url_of("logo.png")]
    assert logo.status == "skipped" and logo.reason.startswith("image/png is not a document")
    assert (found[site.url_of("notes.md")].status, found[site.url_of("notes.md")].extension) == (
        "fetched",
        ".md",
    )
    assert found[site.url_of("gone.html")].reason == "HTTP 410 Gone"
    assert found[site.url_of("forbidden.html")].status == "failed"
    assert found[site.url_of("forbidden.html")].reason == "HTTP 403 Forbidden"


def test_private_addresses_and_other_hosts_are_never_fetched() -> None:
    with serve_site() as site:
        port = site.url.rsplit(":", 1)[1]
        other = f"http://localhost:{port}/about.html"  # a real server, but another host
        site.add("about.html", "<p>about</p>")
        site.redirect("to-private", "http://10.0.0.1/admin")
        site.redirect("to-metadata", "http://169.254.169.254/latest/meta-data/")
        site.redirect("to-other", other)
        found = crawl_links(
            site, ["http://10.0.0.1/x", other, "to-private", "to-metadata", "to-other"]
        )
    # Links off the site are not in scope: not fetched, not reported.
    assert "http://10.0.0.1/x" not in found and other not in found
    private = found[site.url_of("to-private")]
    assert (private.status, private.reason) == (
        "skipped",
        "redirects to http://10.0.0.1/admin: 10.0.0.1 is a private address; "
        "add it to CRAWL_ALLOWED_HOSTS to crawl it",
    )
    assert "a cloud metadata address" in found[site.url_of("to-metadata")].reason
    assert found[site.url_of("to-other")].reason == (
        f"redirects to {other}, another site (not crawled)"
    )
    assert all(hit.host == site.url.removeprefix("http://") for hit in site.hits)


def test_without_allowed_hosts_127_0_0_1_is_refused() -> None:
    with serve_site() as site:
        site.add("index.html", "<p>home</p>")
        with pytest.raises(IngestionError) as refused:
            list(Crawler(site.url + "/", CrawlOptions()).pages())
        assert str(refused.value) == (
            f"cannot crawl {site.url}/: 127.0.0.1 is a loopback address; "
            "add it to CRAWL_ALLOWED_HOSTS to crawl it"
        )
        port = site.url.rsplit(":", 1)[1]
        with pytest.raises(IngestionError, match=r"localhost resolves to 127\.0\.0\.1, a loopback"):
            list(Crawler(f"http://localhost:{port}/", CrawlOptions()).pages())
        assert site.hits == []


def test_connections_go_to_the_address_that_was_checked() -> None:
    # docs.test exists only in this resolver: the crawl can reach the server only if the
    # connection uses the address the policy resolved and checked.
    async def resolve(host: str, port: int) -> list[str]:
        return {"docs.test": ["127.0.0.1"]}[host]

    with serve_site() as site:
        site.add("index.html", '<p>home</p><a href="/a.html">a</a>')
        site.add("a.html", "<p>a</p>")
        port = site.url.rsplit(":", 1)[1]
        policy = AddressPolicy(["127.0.0.1"], resolve=resolve)
        crawler = Crawler(f"http://docs.test:{port}/", options(), policy=policy)
        statuses = {p.url: p.status for p in crawler.pages()}
        assert statuses[f"http://docs.test:{port}/a.html"] == "fetched"
        assert {hit.host for hit in site.hits} == {f"docs.test:{port}"}
        rebinding = AddressPolicy(resolve=resolve)  # the same answer, not allowed
        with pytest.raises(IngestionError, match=r"docs\.test resolves to 127\.0\.0\.1"):
            list(Crawler(f"http://docs.test:{port}/", options(), policy=rebinding).pages())


def certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``name``, made by the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_is_checked_against_the_name_while_connecting_to_the_checked_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return {"docs.test": ["127.0.0.1"], "wrong.test": ["127.0.0.1"]}[host]

    cert, key = certificate(tmp_path, "docs.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust this certificate, as an operator can
    policy = AddressPolicy(["127.0.0.1"], resolve=resolve)
    with serve_site(tls=(cert, key)) as site:
        site.add("index.html", "<p>over TLS</p>")
        port = site.url.rsplit(":", 1)[1]
        pages = list(Crawler(f"https://docs.test:{port}/", options(), policy=policy).pages())
        assert [(p.url, p.status) for p in pages] == [(f"https://docs.test:{port}/", "fetched")]
        with pytest.raises(IngestionError, match="Hostname mismatch"):
            list(Crawler(f"https://wrong.test:{port}/", options(), policy=policy).pages())


def test_an_unreachable_start_url_is_one_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(IngestionError) as refused:
            list(Crawler(f"http://127.0.0.1:{port}/", options()).pages())
    message = str(refused.value)
    assert message.startswith(f"cannot crawl http://127.0.0.1:{port}/: cannot connect to")
    assert "\n" not in message
    with pytest.raises(IngestionError, match="not an http:// or https:// URL"):
        Crawler("ftp://example.org/", options())


def test_a_start_url_that_cannot_be_crawled_says_why() -> None:
    with serve_site() as site:
        site.robots = "User-agent: *\nDisallow: /\n"
        with pytest.raises(IngestionError, match=r"robots\.txt disallows it"):
            crawl(site.url + "/")
        site.robots = None
        site.redirect("", "http://localhost:1/")
        with pytest.raises(IngestionError, match="on another host; start the crawl from"):
            crawl(site.url + "/")
        site.fail("robots.txt", times=99, status=503)
        with pytest.raises(IngestionError, match=r"robots.txt answered HTTP 503 .*try again"):
            crawl(site.url + "/", options(retries=0))


def test_requests_are_polite_per_host() -> None:
    with serve_site() as site:
        names = [f"p{i}.html" for i in range(12)]
        for name in names:
            site.add(name, f"<p>{name}</p>")
            site.slow(name, 0.2)
        crawl_links(site, names, concurrency=2, rate=10.0)
    assert site.max_in_flight == 2
    starts = sorted(site.starts)
    assert starts[-1] - starts[0] >= (len(starts) - 1) / 10.0 * 0.95
