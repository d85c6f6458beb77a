"""The admin page in Chromium: signing in, uploads by drag and drop, documents, the cache."""

from __future__ import annotations

import pytest
from browsing import ADMIN_PASSWORD, ADMIN_USER, PHONE, Shoot, Site, Watched, open_page
from playwright.sync_api import Browser, Page, expect
from testing_secrets import TEST_ADMIN_TOKEN

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ORCHARD = b"""# Keeping a quince orchard

## Pruning

Quince trees are pruned in late winter, removing crossing branches and opening the centre
of the crown so that light reaches the fruit spurs.
"""


def drop_files(page: Page, files: dict[str, bytes]) -> None:
    """Drop files on the drop zone as a reader's drag from the desktop would."""
    page.evaluate(
        """(files) => {
          const transfer = new DataTransfer();
          for (const [name, bytes] of Object.entries(files)) {
            transfer.items.add(new File([new Uint8Array(bytes)], name));
          }
          const zone = document.getElementById("dropzone");
          for (const type of ["dragenter", "dragover", "drop"]) {
            zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true,
              cancelable: true }));
          }
        }""",
        {name: list(data) for name, data in files.items()},
    )


def sign_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(base + "/admin")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_admin_uploads_a_document_that_becomes_searchable(
    site: Site, desktop: Watched, shoot: Shoot
) -> None:
    page = desktop.page
    sign_in(page, site.base, ADMIN_USER, ADMIN_PASSWORD)
    expect(page.locator("#whoami")).to_have_text(ADMIN_USER)
    expect(page.locator("#documents tbody tr").filter(has_text="lighthouse.md")).to_contain_text(
        "completed"
    )

    drop_files(page, {"quince-orchard.md": ORCHARD, "notes.pdf": b"not really a PDF"})
    done = page.locator(".upload").filter(has_text="quince-orchard.md")
    expect(done.locator(".upload-status")).to_have_text("Indexed: 1 chunk", timeout=60_000)
    expect(done.locator("progress")).to_have_attribute("value", "100")
    refused = page.locator(".upload").filter(has_text="notes.pdf")
    expect(refused.locator(".upload-status")).to_contain_text("the content is not a PDF")
    row = page.locator("#documents tbody tr").filter(has_text="quince-orchard.md")
    expect(row).to_contain_text("completed")
    shoot(page, "admin-upload-desktop-light")

    page.goto(site.base + "/")
    search = page.get_by_label("Search the documents")
    search.fill("when are quince trees pruned")
    search.press("Enter")
    first = page.locator("#search-results .results li a").first
    expect(first).to_contain_text("Keeping a quince orchard")
    assert not desktop.errors, desktop.errors


def test_admin_deletes_a_document_and_reads_the_cache(site: Site, browser: Browser) -> None:
    context, watched = open_page(browser)
    page = watched.page
    sign_in(page, site.base, ADMIN_USER, ADMIN_PASSWORD)
    expect(page.locator("#admin-panel")).to_be_visible()
    drop_files(page, {"short-lived.txt": b"The short lived note about barometers."})
    status = page.locator(".upload").filter(has_text="short-lived.txt").locator(".upload-status")
    expect(status).to_have_text("Indexed: 1 chunk", timeout=60_000)
    row = page.locator("#documents tbody tr").filter(has_text="short-lived.txt")
    expect(row).to_have_count(1)
    watched.accept_dialogs = True
    row.get_by_role("button", name="Delete short-lived.txt").click()
    expect(row).to_have_count(0)
    expect(page.locator("#documents-status")).to_have_text("Deleted short-lived.txt.")
    assert watched.dialogs == ["Delete “short-lived” and its passages?"]

    expect(page.locator("#cache-stats dt").first).to_be_visible()
    page.get_by_role("button", name="Clear the cache").click()
    expect(page.locator("#cache-status")).to_contain_text("Cache cleared")
    context.close()


def test_admin_page_refuses_wrong_credentials(site: Site, browser: Browser, shoot: Shoot) -> None:
    context, watched = open_page(browser, viewport=PHONE, color_scheme="dark")
    page = watched.page
    sign_in(page, site.base, ADMIN_USER, "not the password")
    expect(page.locator("#signin-status")).to_contain_text("Sign-in failed")
    expect(page.locator("#admin-panel")).to_be_hidden()
    shoot(page, "admin-signin-phone-dark")

    page.get_by_text("Use the admin token instead").click()
    page.get_by_label("Admin token (ADMIN_TOKEN)").fill("wrong-token-wrong-token")
    page.get_by_role("button", name="Use this token").click()
    expect(page.locator("#signin-status")).to_contain_text("refused")
    expect(page.locator("#admin-panel")).to_be_hidden()

    page.get_by_label("Admin token (ADMIN_TOKEN)").fill(TEST_ADMIN_TOKEN)
    page.get_by_role("button", name="Use this token").click()
    expect(page.locator("#admin-panel")).to_be_visible()
    expect(page.locator("#documents tbody tr").first).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the admin page scrolls sideways at 375 px: {width}"
    shoot(page, "admin-panel-phone-dark")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#admin-panel")).to_be_hidden()
    context.close()
