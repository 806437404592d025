"""Headless Chromium for the web page's tests: Debian's chromium driven by Playwright (never a
browser downloaded by `playwright install`), and a page opened on a running gateway."""

from __future__ import annotations

import os
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
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
"""Where `make screenshots` (GERBANG_SCREENSHOTS=1) writes the README's screenshots."""
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


_SCRATCH: dict[str, Path] = {}
"""Where `shot` writes outside `make screenshots`: a pytest temporary folder per test module,
set by the `scratch_screenshots` fixture of tests/integration/conftest.py."""


def use_scratch(folder: Path) -> None:
    """`shot` writes into `folder` (outside `make screenshots`)."""
    _SCRATCH["screenshots"] = folder


async def shot(page: Page, name: str) -> None:
    """A full-page screenshot, from the top (the header is sticky).

    Into docs/screenshots when GERBANG_SCREENSHOTS=1 (`make screenshots`), so that `make test`
    leaves the checkout as it was (uptimes and ports differ at every run); else into this
    module's pytest temporary folder (pytest keeps the last three runs), taken all the same,
    never loose in /tmp.
    """
    await page.evaluate("window.scrollTo(0, 0)")
    folder = SHOTS if os.environ.get("GERBANG_SCREENSHOTS") == "1" else _SCRATCH["screenshots"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    await page.screenshot(path=path, full_page=True)
    assert path.stat().st_size > 1000, f"empty screenshot {path}"
