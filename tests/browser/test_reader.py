"""The reader and its chat panel in Chromium: streaming, citations, selections, not-found."""

from __future__ import annotations

import pytest
from browsing import DESKTOP, PHONE, Shoot, Site, Watched, ask, open_page
from playwright.sync_api import Browser, Page, Route, expect

pytestmark = [pytest.mark.slow, pytest.mark.integration]

FOG = "When does the fog horn sound?"

# Every render of an answer's body adds its paragraphs: their texts show what the reader saw
# while the answer streamed.
RECORD_RENDERS = """() => {
  window.__renders = [];
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.target.classList && r.target.classList.contains("msg-body")) {
        const text = Array.from(r.addedNodes).map((n) => n.textContent).join("\\n");
        if (text.trim()) window.__renders.push(text);
      }
    }
  }).observe(document.querySelector(".chat-log"), { childList: true, subtree: true });
}"""


def in_viewport(page: Page, selector: str) -> bool:
    return bool(
        page.evaluate(
            """(selector) => {
              const r = document.querySelector(selector).getBoundingClientRect();
              return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0;
            }""",
            selector,
        )
    )


def test_streamed_answer_citation_opens_the_cited_passage(
    site: Site, desktop: Watched, shoot: Shoot
) -> None:
    page = desktop.page
    page.goto(site.base + "/")
    expect(page.locator(".doc-card").filter(has_text="lighthouse.md")).to_have_count(1)
    shoot(page, "library-desktop-light")
    page.evaluate(RECORD_RENDERS)
    with page.expect_response("**/api/chat") as response:
        ask(page, FOG)
    assert response.value.headers["content-type"].startswith("text/event-stream")

    answer = page.locator(".msg-bot").last
    final = answer.locator(".msg-body").inner_text()
    assert "two blasts every sixty seconds" in final
    renders: list[str] = page.evaluate("window.__renders")
    partial = [r for r in renders if r.strip() and r.strip() != final.strip()]
    assert partial, f"the answer was not drawn piece by piece: {renders}"
    assert all(final.replace("\n", " ").startswith(p.split("[")[0].strip()[:40]) for p in partial)

    page.evaluate("window.__samePage = true")
    link = answer.locator("a.cite-ref").first
    expect(link).to_have_attribute("href", "/read/lighthouse.md#fog-signals")
    link.click()
    expect(page).to_have_url(site.base + "/read/lighthouse.md#fog-signals")
    heading = page.locator("#fog-signals")
    expect(heading).to_have_text("Fog signals")
    expect(page.locator(".doc-section.is-cited")).to_have_count(1)
    expect(page.locator(".doc-section.is-cited #fog-signals")).to_have_count(1)
    marks = page.locator(".doc-section.is-cited mark.cited")
    expect(marks.filter(has_text="two blasts every sixty seconds")).to_have_count(1)
    assert in_viewport(page, "#fog-signals")
    assert page.evaluate("window.__samePage") is True, "the page reloaded: the chat was lost"
    expect(page.locator(".msg-bot")).to_have_count(1)
    shoot(page, "reader-citation-desktop-light")

    # Back to the library and forward again, in place.
    page.go_back()
    expect(page.locator("h1")).to_have_text("Library")
    page.go_forward()
    expect(page.locator("#fog-signals")).to_be_visible()
    assert not desktop.errors and not desktop.dialogs


def test_asking_about_a_selection_cites_it(site: Site, desktop: Watched, shoot: Shoot) -> None:
    page = desktop.page
    page.goto(site.base + "/read/guides/composting.html")
    paragraph = page.locator("#turning ~ p").first
    paragraph.click(click_count=3)  # selects the paragraph, as a reader would
    button = page.get_by_role("button", name="Ask about this")
    expect(button).to_be_visible()
    button.click()
    context = page.locator(".chat-context")
    expect(context).to_be_visible()
    expect(context).to_contain_text("garden fork every two weeks")
    expect(page.get_by_label("Your question")).to_be_focused()
    shoot(page, "selection-context-desktop-light")

    ask(page, "How often should it be turned?")
    expect(page.locator(".msg-user .msg-context")).to_contain_text("garden fork")
    answer = page.locator(".msg-bot").last
    expect(answer.locator(".msg-body")).to_contain_text("every two weeks")
    expect(answer.locator(".sources .source-link.selection")).to_have_text("The selected text")
    expect(context).to_be_hidden()
    shoot(page, "selection-answer-desktop-light")
    assert not desktop.errors


def test_an_ungrounded_question_shows_the_not_found_state(
    site: Site, browser: Browser, shoot: Shoot
) -> None:
    for scheme in ("light", "dark"):
        context, watched = open_page(browser, color_scheme=scheme)
        page = watched.page
        page.goto(site.base + "/read/tea.txt")
        ask(page, "What is the capital of Mongolia?")
        answer = page.locator(".msg-bot").last
        expect(answer).to_have_class("msg msg-bot not-found")
        expect(answer.locator(".msg-body")).to_have_text("I can't find that in the documents.")
        expect(answer.locator(".not-found-note")).to_contain_text("Not found in the documents.")
        expect(answer.locator(".sources")).to_have_count(0)
        grounded = page.locator(".msg-bot:not(.not-found)")
        expect(grounded).to_have_count(0)
        shoot(page, f"not-found-desktop-{scheme}")
        assert not watched.errors
        context.close()


def test_search_box_lists_passages_that_open_in_the_reader(
    site: Site, desktop: Watched, shoot: Shoot
) -> None:
    page = desktop.page
    page.goto(site.base + "/")
    page.get_by_label("Search the documents").fill("carbon nitrogen ratio brown material")
    page.get_by_label("Search the documents").press("Enter")
    results = page.locator("#search-results .results li")
    expect(results.first).to_be_visible()
    first = results.first.locator("a")
    expect(first).to_contain_text("Composting at Home")
    shoot(page, "search-desktop-light")
    first.click()
    expect(page).to_have_url(site.base + "/read/guides/composting.html#ratio")
    expect(page.locator(".doc-section.is-cited mark.cited").first).to_be_visible()
    assert not desktop.errors


def test_sessions_feedback_copy_and_new_chat(site: Site, browser: Browser) -> None:
    context, watched = open_page(browser)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.base)
    page = watched.page
    page.goto(site.base + "/")
    ask(page, "How is the Fresnel lens cleaned?")
    answer = page.locator(".msg-bot").last
    with page.expect_response("**/feedback") as rated:
        answer.get_by_role("button", name="Helpful", exact=True).click()
    assert rated.value.status == 200 and rated.value.json()["rating"] == 1
    expect(answer.get_by_role("button", name="Helpful", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    answer.get_by_role("button", name="Copy the answer").click()
    expect(answer.locator(".action-note")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "linen cloth" in copied and "/read/lighthouse.md#lamp-maintenance" in copied

    # The conversation survives a reload, and a new chat starts empty.
    page.reload()
    expect(page.locator(".msg-bot")).to_have_count(1)
    page.get_by_role("button", name="New chat").click()
    expect(page.locator(".msg")).to_have_count(0)
    ask(page, "How long does a full tank of paraffin last?")
    page.get_by_role("button", name="Past chats").click()
    items = page.locator(".history-item")
    expect(items).to_have_count(2)
    items.filter(has_text="Fresnel").click()
    expect(page.locator(".msg-user")).to_have_text("How is the Fresnel lens cleaned?")
    expect(page.locator(".msg-bot .cite-ref").first).to_be_visible()

    # Another browser (another client token) sees none of these chats.
    other_context, other = open_page(browser)
    other.page.goto(site.base + "/")
    other.page.get_by_role("button", name="Past chats").click()
    expect(other.page.locator(".history-list")).to_contain_text("No past chats yet.")
    other_context.close()
    assert not watched.errors
    context.close()


def test_stop_ends_a_slow_answer(site: Site, desktop: Watched) -> None:
    page = desktop.page

    def slow(route: Route) -> None:
        page.wait_for_timeout(2000)  # a slow network: the answer has not arrived yet
        route.continue_()

    page.route("**/api/chat", slow)
    page.goto(site.base + "/")
    box = page.get_by_label("Your question")
    box.fill(FOG)
    box.press("Enter")
    stop = page.get_by_role("button", name="Stop generating")
    expect(stop).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_hidden()
    stop.click()
    answer = page.locator(".msg-bot").last
    expect(answer).to_have_class("msg msg-bot stopped")
    expect(answer).to_contain_text("Stopped")
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    page.unroute_all(behavior="ignoreErrors")


def test_keyboard_only_and_small_screens(site: Site, browser: Browser, shoot: Shoot) -> None:
    for scheme in ("light", "dark"):
        context, watched = open_page(browser, viewport=PHONE, color_scheme=scheme)
        page = watched.page
        page.goto(site.base + "/read/lighthouse.md")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways at 375 px: {width}"
        shoot(page, f"reader-phone-{scheme}")
        toggle = page.get_by_role("button", name="Chat", exact=True)
        toggle.focus()
        page.keyboard.press("Enter")
        box = page.get_by_label("Your question")
        expect(box).to_be_focused()
        page.keyboard.type(FOG)
        page.keyboard.press("Enter")
        answer = page.locator(".msg-bot:not(.streaming)")
        expect(answer).to_have_count(1)
        shoot(page, f"chat-phone-{scheme}")
        # Keyboard to the citation: it closes the panel and shows the passage.
        answer.locator("a.cite-ref").first.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#chat")).to_be_hidden()
        expect(page.locator(".doc-section.is-cited #fog-signals")).to_have_count(1)
        assert in_viewport(page, "#fog-signals")
        shoot(page, f"citation-phone-{scheme}")
        assert not watched.errors
        context.close()
    context, watched = open_page(browser, viewport=DESKTOP, color_scheme="dark")
    watched.page.goto(site.base + "/read/lighthouse.md#fuel")
    expect(watched.page.locator(".doc-section.is-cited #fuel")).to_have_count(1)
    shoot(watched.page, "reader-desktop-dark")
    context.close()
