"""Headless Chromium for the web page's tests: Debian's chromium driven by Playwright (never a
browser downloaded by `playwright install`), and a page opened on a running gateway."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 15_000
"""How long a page may take to show what a test expects (a loaded 2-core box)."""


def chromium() -> str:
    """Debian's chromium; the test fails with how to get it when it is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run `make test-deps` (Debian package chromium)")
    return CHROMIUM


@asynccontextmanager
async def launched_browser() -> AsyncIterator[Browser]:
    """A headless Chromium, closed at the end."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium(), args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def open_page(browser: Browser, gw: Any, locale: str = "en-US", **kw: Any) -> Page:
    """A new page on the running gateway `gw` (tests/support/api.py `RunningGateway`)."""
    context = await browser.new_context(locale=locale, **kw)
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    await page.goto(gw.base_url + "/")
    return page
