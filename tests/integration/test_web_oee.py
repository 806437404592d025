"""The OEE tab in a real browser (Debian's headless Chromium, driven by Playwright): a real
Modbus press whose state the test scripts, the gateway in this process, the page over HTTP.

What a supervisor does with it on a phone: read A, P, Q and OEE for this shift, see the fault in
the timeline, and name the stop's reason from the picker (asked for the token), in English and
in Bahasa Indonesia.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.support.api import TOKEN, RunningGateway, config_data, running_gateway
from tests.support.browser import WAIT_MS
from tests.support.modbus_server import RegisterBank, bank_server
from tests.support.mosquitto import Mosquitto
from tests.support.oee import (
    FAULT,
    RUNNING,
    press_oee_device,
    press_registers,
    set_machine,
    site_oee,
)
from tests.support.wait import eventually_async

pytestmark = pytest.mark.integration

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
}


@pytest.fixture
async def press() -> AsyncIterator[tuple[RegisterBank, int]]:
    bank = press_registers(RUNNING, 10, 10)
    async with bank_server({1: bank}) as server:
        yield bank, server.port


@pytest.fixture
async def gw(
    tmp_path: Path, mosquitto: Mosquitto, press: tuple[RegisterBank, int]
) -> AsyncIterator[RunningGateway]:
    data = config_data(tmp_path, mosquitto.port, [press_oee_device("press-1", press[1])])
    async with running_gateway(tmp_path / "gateway.json", data | {"oee": site_oee()}) as running:
        yield running


async def a_finished_stop(gw: RunningGateway, bank: RegisterBank) -> dict[str, Any]:
    """Run, make 2 parts (1 good), fault for longer than micro_stop, run again."""

    async def figures() -> dict[str, Any] | None:
        current = (await gw.client.get("/api/v1/oee/press-1")).json()["current"]
        return current if current and current["run_s"] >= 1.0 else None

    await eventually_async(figures)
    set_machine(bank, FAULT, 12, 11)

    async def stop() -> dict[str, Any] | None:
        stops = (await gw.client.get("/api/v1/devices/press-1/stops")).json()["stops"]
        return stops[0] if stops and stops[0]["end"] is None else None

    await eventually_async(stop)
    set_machine(bank, RUNNING, 12, 11)

    async def ended() -> dict[str, Any] | None:
        stops = (await gw.client.get("/api/v1/devices/press-1/stops")).json()["stops"]
        return stops[0] if stops and stops[0]["end"] is not None else None

    return await eventually_async(ended)


async def test_a_supervisor_reads_oee_and_names_a_stop_on_a_phone(
    gw: RunningGateway, press: tuple[RegisterBank, int], browser: Browser
) -> None:
    stop = await a_finished_stop(gw, press[0])
    context = await browser.new_context(locale="en-US", **PHONE)
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    await page.goto(gw.base_url + "/#oee")

    card = page.locator('[data-oee="press-1"]')
    await expect(card.locator('[data-figure="quality"] .current')).to_have_text("50.0%")
    await expect(card.locator('[data-figure="availability"] .current')).to_contain_text("%")
    await expect(card.locator('[data-figure="oee"] .previous')).to_have_text("—")
    await expect(card.locator(".timeline [data-condition='stopped']")).to_have_count(1)
    await expect(card.locator(".timeline [data-condition='running']")).to_have_count(2)
    row = card.locator(f'[data-stop="{stop["id"]}"]')
    await expect(row.locator(".reason")).to_have_text(f"machine state {FAULT}")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the OEE tab is wider than a phone screen: {width}px"

    # Naming the reason asks for the token, then saves it on the gateway.
    await row.locator("select").select_option("no_material")
    await row.locator("button").click()
    await page.fill("#token-input", TOKEN)
    await page.click("#token-ok")
    await expect(card.locator(f'[data-stop="{stop["id"]}"] .reason')).to_have_text("No material")
    saved = (await gw.client.get("/api/v1/devices/press-1/stops")).json()["stops"][0]
    assert saved["reason"] == "no_material"

    # Free text, through "Other".
    row = card.locator(f'[data-stop="{stop["id"]}"]')
    await row.locator("select").select_option("__other")
    await row.locator("input.reason-text").fill("mould cracked")
    await row.locator("button").click()
    await expect(card.locator(f'[data-stop="{stop["id"]}"] .reason')).to_have_text("mould cracked")

    # Bahasa Indonesia: the labels and the site's reasons in Indonesian.
    await page.click("#lang-switch")
    await expect(card.locator('[data-figure="availability"] th')).to_have_text("Ketersediaan")
    await expect(card.locator("select option[value='no_material']")).to_have_text("Bahan habis")
    await context.close()
