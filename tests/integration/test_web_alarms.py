"""The alarms on the web page in a real browser (Debian's Chromium driven by Playwright) against a
gateway that reads a real Modbus server and publishes to a real mosquitto: the banner appears
when a limit is crossed, the alarm is acknowledged with the token from the Alarms tab, the
banner follows, in English and Bahasa Indonesia, on a phone too, without a sound."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.support.api import (
    TOKEN,
    RunningGateway,
    config_data,
    press_bank,
    press_device,
    running_gateway,
)
from tests.support.browser import open_page, shot
from tests.support.modbus_server import RegisterBank, bank_server
from tests.support.mosquitto import Mosquitto, Subscriber

pytestmark = pytest.mark.integration

TOO_HOT = "factory/pasuruan/casting/press-1/$alarms/too_hot"


@pytest.fixture
def bank() -> RegisterBank:
    return press_bank()  # melt_temp 1000: normal


@pytest.fixture
async def gw(
    tmp_path: Path, mosquitto: Mosquitto, bank: RegisterBank
) -> AsyncIterator[RunningGateway]:
    async with bank_server({1: bank}) as server:
        device = press_device("press-1", 1, server.port)
        device["signals"][0]["alarms"] = [
            {
                "name": "too_hot",
                "above": 1500,
                "clear_below": 1400,
                "severity": "high",
                "message": {"en": "Melt too hot", "id": "Leburan terlalu panas"},
            }
        ]
        data = config_data(tmp_path, mosquitto.port, [device])
        async with running_gateway(tmp_path / "gateway.yaml", data) as running:
            yield running


async def test_the_banner_shows_an_alarm_and_the_ack_is_made_with_the_token(
    gw: RunningGateway, bank: RegisterBank, mosquitto: Mosquitto, browser: Browser
) -> None:
    page = await open_page(browser, gw)
    banner = page.locator("#alarm-banner")
    await expect(page.locator('[data-device="press-1"] [data-state="online"]')).to_be_visible()
    await expect(banner).to_be_hidden()

    async with Subscriber(mosquitto, TOO_HOT) as sub:
        bank.set("holding", 0, [1600])
        await expect(banner).to_have_text("1 active alarm · 1 not acknowledged")
        await expect(banner).to_have_class("alarm-banner sev-high")
        await expect(page.locator('nav a[data-tab="alarms"]')).to_have_text("Alarms (1)")

        await banner.click()
        item = page.locator('#alarm-list [data-alarm="press-1/too_hot"]')
        await expect(item.locator(".sev")).to_have_text("High")
        await expect(item).to_contain_text("Melt too hot")
        await expect(item.locator(".alarm-state")).to_have_text("Active")
        await expect(page.locator('#alarm-history [data-alarm="press-1/too_hot"]')).to_have_count(1)
        await shot(page, "alarms.png")

        await item.locator("button.ack").click()  # no token yet: the gateway asks for it
        await page.fill("#token-input", TOKEN)
        await page.click("#token-ok")
        await expect(item.locator(".acked")).to_have_text("Acknowledged by technician")
        await expect(item.locator("button.ack")).to_have_count(0)
        await expect(banner).to_have_text("1 active alarm")
        await expect(page.locator("#alarm-message")).to_have_text(
            "Alarm too_hot on press-1 acknowledged."
        )
        [alarm] = gw.gateway.alarms.service.active()
        assert (alarm.acknowledged, alarm.acknowledged_by) == (True, "technician")
        await sub.wait_for(lambda: any(v["acknowledged"] for v in sub.values(TOO_HOT)))

    await page.click("#lang-switch")
    await expect(banner).to_have_text("1 alarm aktif")
    await expect(item.locator(".acked")).to_have_text("Dikonfirmasi oleh technician")
    await expect(item).to_contain_text("Leburan terlalu panas")
    assert await page.evaluate("document.querySelectorAll('audio, video').length") == 0

    phone = await open_page(
        browser, gw, viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    await expect(phone.locator("#alarm-banner")).to_be_visible()
    await phone.locator("#alarm-banner").click()
    await expect(phone.locator('#alarm-list [data-alarm="press-1/too_hot"]')).to_be_visible()
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is wider than a phone screen: {width}px"
    await shot(phone, "alarms-phone.png")

    bank.set("holding", 0, [1300])  # cleared after it was acknowledged: done
    await expect(page.locator("#alarm-banner")).to_be_hidden()
    await expect(page.locator("#alarm-list .none")).to_be_visible()
