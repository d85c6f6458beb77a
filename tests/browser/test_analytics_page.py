"""The admin page's analytics in Chromium: the chart drawn, a gap opened, a report downloaded.

Readers' questions go to the real server first (five ways of asking about prices, which the
documents do not cover, and questions they answer, one of them rated down).
"""

from __future__ import annotations

import csv
import io
import secrets
import time
from pathlib import Path

import httpx
import pytest
from browsing import PHONE, Shoot, Site, Watched, open_page
from playwright.sync_api import Browser, Locator, Page, expect
from testing_secrets import TEST_ADMIN_TOKEN

pytestmark = [pytest.mark.slow, pytest.mark.integration]

PRICING = [
    "How much does it cost?",
    "What is the price of a subscription?",
    "What does the pro plan cost per month?",
    "Pricing for teams?",
    "How expensive is a licence?",
]
ANSWERED = ["How often is the Fresnel lens cleaned?", "At what temperature is green tea brewed?"]
# The first report groups the questions (embeds them) and searches for each gap's pages: on a
# busy machine that takes longer than Playwright's usual five seconds.
LOADED = 60_000

# Counts the canvas pixels something was drawn on.
_INKED = """(id) => {
  const canvas = document.getElementById(id);
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
  return inked;
}"""


@pytest.fixture(scope="module")
def asked(site: Site) -> None:
    """The readers' questions, and a rating down on one answer."""
    with httpx.Client(base_url=site.base, timeout=60) as http:
        for question in PRICING + ANSWERED:
            token = secrets.token_urlsafe(24)
            reply = http.post(
                "/api/chat", json={"message": question}, headers={"X-Client-Token": token}
            )
            assert reply.status_code == 200, reply.text
            if question == ANSWERED[0]:
                rated = http.post(
                    f"/api/messages/{reply.json()['message_id']}/feedback",
                    json={"rating": -1},
                    headers={"X-Client-Token": token},
                )
                assert rated.status_code == 200, rated.text


def _enter_with_token(page: Page, base: str) -> None:
    page.goto(base + "/admin")
    page.get_by_text("Use the admin token instead").click()
    page.get_by_label("Admin token (ADMIN_TOKEN)").fill(TEST_ADMIN_TOKEN)
    page.get_by_role("button", name="Use this token").click()
    expect(page.locator("#admin-panel")).to_be_visible()


def _pricing_gap(page: Page) -> Locator:
    questions = page.locator(".gap-questions li", has_text="How expensive is a licence?")
    return page.locator(".gap").filter(has=questions)


def test_the_chart_draws_and_a_gap_opens_on_its_questions_and_pages(
    site: Site, asked: None, desktop: Watched, shoot: Shoot
) -> None:
    page = desktop.page
    _enter_with_token(page, site.base)
    expect(page.locator("#analytics-summary")).to_contain_text("Unanswered", timeout=LOADED)
    _wait_for_ink(page, "analytics-chart")

    gap = _pricing_gap(page)
    expect(gap).to_have_count(1, timeout=LOADED)
    expect(gap.locator(".status-open")).to_have_text("open")
    expect(gap.locator(".gap-questions")).to_be_hidden()
    gap.locator("summary").click()
    listed = gap.locator(".gap-questions li")
    expect(listed).to_have_count(len(PRICING))
    assert sorted(listed.all_inner_texts()) == sorted(PRICING)
    nearest = gap.locator(".nearest a")
    expect(nearest.first).to_be_visible()
    assert all(href.startswith("/read/") for href in _hrefs(nearest))
    shoot(page, "admin-analytics-desktop-light")

    # Page usage: the answered questions cited their documents.
    expect(page.locator("#analytics-pages tbody tr").first).to_be_visible()
    expect(page.locator("#analytics-pages")).to_contain_text("lighthouse.md")
    assert not desktop.errors, desktop.errors


def _hrefs(links: Locator) -> list[str]:
    return [str(links.nth(i).get_attribute("href")) for i in range(links.count())]


def test_each_report_downloads_as_csv(
    site: Site, asked: None, desktop: Watched, tmp_path: Path
) -> None:
    page = desktop.page
    _enter_with_token(page, site.base)
    expect(page.locator(".gap").first).to_be_visible(timeout=LOADED)
    card = page.locator("section", has=page.locator("#gaps-title"))
    with page.expect_download() as started:
        card.get_by_role("button", name="Download CSV").click()
    download = started.value
    assert download.suggested_filename.startswith("gaps-")
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    pricing = [row for row in rows if "How expensive is a licence?" in row["questions"]]
    assert len(pricing) == 1 and int(pricing[0]["count"]) >= len(PRICING)

    summary = page.locator("section", has=page.locator("#analytics-title"))
    with page.expect_download() as started:
        summary.get_by_role("button", name="Download CSV").click()
    started.value.save_as(tmp_path / "summary.csv")
    lines = (tmp_path / "summary.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "date,questions,unanswered,unanswered_rate,up,down"
    assert len(lines) == 31  # the header and 30 days
    assert not desktop.errors, desktop.errors


def test_the_chart_takes_the_dark_themes_colours_on_a_phone(
    site: Site, asked: None, browser: Browser, shoot: Shoot
) -> None:
    context, watched = open_page(browser, viewport=PHONE, color_scheme="dark")
    page = watched.page
    _enter_with_token(page, site.base)
    _wait_for_ink(page, "analytics-chart")
    expect(_pricing_gap(page)).to_have_count(1, timeout=LOADED)
    colours = page.evaluate(
        """() => {
          const chart = Chart.getChart(document.getElementById("analytics-chart"));
          const css = getComputedStyle(document.documentElement);
          return [chart.options.scales.x.ticks.color, css.getPropertyValue("--muted").trim(),
                  chart.options.plugins.legend.labels.color, css.getPropertyValue("--text").trim()];
        }"""
    )
    assert colours[0] == colours[1] and colours[2] == colours[3]
    assert colours[3] == "#e7e8ea"  # the dark theme's text colour
    page.locator(".chart").scroll_into_view_if_needed()
    shoot(page, "admin-analytics-chart-phone-dark")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the admin page scrolls sideways at 375 px: {width}"
    _pricing_gap(page).locator("summary").click()
    shoot(page, "admin-analytics-phone-dark")
    assert not watched.errors, watched.errors
    context.close()


def _wait_for_ink(page: Page, canvas: str) -> None:
    """Until the chart has drawn (more than 500 pixels inked), polled from here: the page's
    Content-Security-Policy forbids the eval that Playwright's in-page polling uses, and
    ``wait_for_function`` fails that way whenever its first look finds nothing drawn yet."""
    deadline = time.monotonic() + LOADED / 1000
    while page.evaluate(f"({_INKED})('{canvas}')") <= 500:
        assert time.monotonic() < deadline, f"{canvas} drew nothing in {LOADED / 1000:.0f} s"
        time.sleep(0.1)
