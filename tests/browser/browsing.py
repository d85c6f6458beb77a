"""Helpers of the browser tests: the site under test, pages that record errors, asking."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Dialog, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ADMIN_USER = "librarian"
ADMIN_PASSWORD = "correct-horse-battery-staple"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}

Shoot = Callable[[Page, str], Path]


@dataclass(frozen=True)
class Site:
    """The server under test and the other origin that embeds its widget."""

    base: str
    widget_origin: str
    root: Path


@dataclass
class Watched:
    """A page plus what it reported: script and console errors, dialogs (an ``alert``)."""

    page: Page
    errors: list[str]
    dialogs: list[str]
    accept_dialogs: bool = False  # confirm() answers: dismissed unless a test says otherwise


def open_page(
    browser: Browser, *, viewport: dict[str, int] = DESKTOP, color_scheme: str = "light"
) -> tuple[BrowserContext, Watched]:
    """A fresh browser profile (its own storage, so its own client token) and one page."""
    context = browser.new_context(
        viewport=viewport,  # type: ignore[arg-type]
        color_scheme=color_scheme,  # type: ignore[arg-type]
        reduced_motion="reduce",
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    watched = Watched(page, [], [])
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    # An HTTP error the page handles (a refused upload) is logged too: not a script error.
    page.on(
        "console",
        lambda m: (
            m.type == "error"
            and not m.text.startswith("Failed to load resource")
            and watched.errors.append(m.text)
        ),
    )

    def dismiss(dialog: Dialog) -> None:
        watched.dialogs.append(dialog.message)
        if watched.accept_dialogs:
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", dismiss)
    return context, watched


def ask(page: Page, question: str) -> None:
    """Type a question in the chat panel, press Enter, wait for the complete answer."""
    done = page.locator(".msg-bot:not(.streaming)")
    before = done.count()
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")
    done.nth(before).wait_for()
