"""A real headless Chromium (Debian's) driven by Playwright, and screenshots to look at.

Set ACEMUX_SCREENSHOTS=<dir> to keep every screenshot the tests take there
(they also go to the test's tmp_path):

    ACEMUX_SCREENSHOTS=/tmp/shots bash scripts/test.sh tests/e2e/test_dashboard.py
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import AsyncIterator

from playwright.async_api import Page, async_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}


class BrowserPage:
    """A page, plus every console error and uncaught exception it produced."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _on_console(self, message) -> None:
        if message.type == "error":
            self.errors.append(message.text)


@contextlib.asynccontextmanager
async def chromium_page() -> AsyncIterator[BrowserPage]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport=VIEWPORT)
            # Confirmation dialogs (stop, drop) are answered yes, as a person would.
            page.on("dialog", lambda dialog: dialog.accept())
            yield BrowserPage(page)
        finally:
            await browser.close()


async def save_screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    """Save a full-page PNG in tmp_path, and in $ACEMUX_SCREENSHOTS when it is set."""
    path = tmp_path / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    keep = os.environ.get("ACEMUX_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)
    return path
