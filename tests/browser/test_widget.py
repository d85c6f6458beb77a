"""The embeddable widget on a page of another origin: isolated styles, CORS, citations."""

from __future__ import annotations

import pytest
from browsing import PHONE, Shoot, Site, ask, open_page
from playwright.sync_api import Browser, expect

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ACCENT_LIGHT = "rgb(31, 95, 191)"


def test_widget_answers_on_another_origin(site: Site, browser: Browser, shoot: Shoot) -> None:
    context, watched = open_page(browser)
    page = watched.page
    api_calls: list[str] = []
    page.on("request", lambda r: "/api/" in r.url and api_calls.append(r.url))
    page.goto(site.widget_origin + "/index.html")
    bubble = page.get_by_role("button", name="Open the chat")
    expect(bubble).to_be_visible()

    # The host's styles do not reach the widget, and the widget's do not reach the host.
    bubble_colour = page.evaluate(
        """() => getComputedStyle(document.querySelector('#rag-chatbot-widget')
              .shadowRoot.querySelector('.bubble')).backgroundColor"""
    )
    assert bubble_colour == ACCENT_LIGHT
    host_button = page.locator("#host-button")
    expect(host_button).to_have_css("background-color", "rgb(255, 0, 0)")
    expect(host_button).to_have_css("font-size", "40px")
    assert page.evaluate("document.querySelectorAll('style').length") == 1
    shoot(page, "widget-closed-desktop-light")

    bubble.click()
    panel = page.get_by_role("dialog", name="Ask the manual")
    expect(panel).to_be_visible()
    expect(page.get_by_label("Your question")).to_be_focused()
    expect(page.get_by_label("Your question")).to_have_css("display", "block")
    ask(page, "When does the fog horn sound?")
    answer = panel.locator(".msg-bot").last
    expect(answer.locator(".msg-body")).to_contain_text("two blasts")
    family = answer.evaluate("(el) => getComputedStyle(el).fontFamily")
    assert "Comic Sans" not in family
    assert any(url.startswith(site.base + "/api/chat") for url in api_calls)
    shoot(page, "widget-answer-desktop-light")

    link = answer.locator("a.cite-ref").first
    expect(link).to_have_attribute("href", site.base + "/read/lighthouse.md#fog-signals")
    with context.expect_page() as opened:
        link.click()
    reader = opened.value
    reader.wait_for_load_state()
    expect(reader.locator(".doc-section.is-cited #fog-signals")).to_have_count(1)

    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(page.get_by_role("button", name="Open the chat")).to_be_focused()
    assert not watched.errors, watched.errors
    context.close()


def test_widget_on_a_phone_in_dark_mode(site: Site, browser: Browser, shoot: Shoot) -> None:
    context, watched = open_page(browser, viewport=PHONE, color_scheme="dark")
    page = watched.page
    page.goto(site.widget_origin + "/index.html")
    page.get_by_role("button", name="Open the chat").click()
    panel = page.get_by_role("dialog", name="Ask the manual")
    box = panel.bounding_box()
    assert box is not None and box["width"] == PHONE["width"]
    ask(page, "How hot should the water be for green tea?")
    expect(panel.locator(".msg-bot .msg-body").last).to_contain_text("80 degrees")
    shoot(page, "widget-answer-phone-dark")
    page.get_by_role("button", name="Close the chat").first.click()
    expect(panel).to_be_hidden()
    assert not watched.errors, watched.errors
    context.close()


def test_an_origin_not_allowed_by_cors_cannot_use_the_api(site: Site, browser: Browser) -> None:
    """The same page served from an origin outside CORS_ORIGINS: the browser blocks the API."""
    context, watched = open_page(browser)
    page = watched.page
    other = site.widget_origin.replace("127.0.0.1", "localhost")
    page.goto(other + "/index.html")
    page.get_by_role("button", name="Open the chat").click()
    box = page.get_by_label("Your question")
    box.fill("When does the fog horn sound?")
    box.press("Enter")
    failed = page.locator(".msg-bot.failed")
    expect(failed).to_contain_text("Something went wrong")
    assert any("CORS" in e for e in watched.errors)
    context.close()
