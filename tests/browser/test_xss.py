"""Script in documents, titles, anchors and questions never runs: it is shown as text."""

from __future__ import annotations

import pytest
from browsing import Shoot, Site, Watched, ask
from playwright.sync_api import expect

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_payloads_in_documents_do_nothing(site: Site, desktop: Watched, shoot: Shoot) -> None:
    page = desktop.page
    page.goto(site.base + "/")
    card = page.locator(".doc-card").filter(has_text="payloads.md")
    expect(card.locator("h2")).to_have_text("Payloads <img src=x onerror=window.__pwned='title'>")

    page.goto(site.base + "/read/payloads.md")
    article = page.locator("article.document")
    expect(article.locator("h1")).to_contain_text("<img src=x onerror=")
    expect(article.locator("pre code")).to_contain_text('<script>window.__pwned = "code"')
    expect(article).to_contain_text("</p><script>window.__pwned='para'</script>")
    assert article.locator("script, img, svg, iframe").count() == 0
    shoot(page, "payloads-desktop-light")

    page.goto(site.base + "/read/payloads.html")
    article = page.locator("article.document")
    expect(article).to_contain_text("""<img src=x onerror="window.__pwned='entity'">""")
    assert article.locator("script, img, svg, iframe, a[href^=javascript]").count() == 0
    # An anchor full of markup is still an id, and its table-of-contents link still finds it.
    page.locator("#toc a").filter(has_text="Night signals").click()
    expect(page.locator(".doc-section.is-cited h3")).to_have_text("Night signals")

    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert not desktop.dialogs


def test_payloads_in_questions_and_answers_do_nothing(site: Site, desktop: Watched) -> None:
    page = desktop.page
    page.goto(site.base + "/read/payloads.md")
    question = (
        "What does the quarantine lantern protocol require? "
        "<img src=x onerror=\"window.__pwned='question';alert(1)\">"
    )
    ask(page, question)
    expect(page.locator(".msg-user").last).to_have_text(question)
    answer = page.locator(".msg-bot").last
    expect(answer.locator(".msg-body")).to_contain_text("green lantern")
    assert page.locator(".chat-log img, .chat-log script").count() == 0

    search = page.get_by_label("Search the documents")
    search.fill("<script>window.__pwned='search'</script> quarantine lantern")
    search.press("Enter")
    expect(page.locator("#search-results h2")).to_contain_text("<script>")
    expect(page.locator("#search-results .snippet").first).to_be_visible()
    assert page.locator("#search-results script, #search-results img").count() == 0

    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert not desktop.dialogs
