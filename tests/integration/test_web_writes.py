"""The write controls of the web page in a real browser (Debian's Chromium via Playwright),
against a running gateway, a real pymodbus server that logs every function code, and mosquitto.

What a technician does: type a setpoint within its limits, give the token when asked, confirm,
and see the read-back; see the gateway's error for a value above `max` with nothing written
(checked at the server); cancel a confirmation and nothing is written; flip a coil's switch;
and the same in Bahasa Indonesia.
"""

from __future__ import annotations

import re
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from gateway.model import DeviceState
from tests.support.api import TOKEN, RunningGateway, config_data, running_gateway
from tests.support.browser import open_page, shot
from tests.support.mosquitto import Mosquitto
from tests.support.wait import eventually
from tests.support.write_server import WriteBank, writable_furnace, write_server

pytestmark = pytest.mark.integration


def float32(words: list[int]) -> float:
    return struct.unpack(">f", struct.pack(">HH", *words))[0]


@pytest.fixture
async def plant(
    tmp_path: Path, mosquitto: Mosquitto
) -> AsyncIterator[tuple[RunningGateway, WriteBank]]:
    unit = WriteBank()
    unit.set("holding", 50, [0x4348, 0])  # temp_setpoint 200.0
    unit.set("holding", 60, [0x44B5, 0x4000])  # melt_temp 1450.0, not writable
    unit.set("coil", 7, [False])
    async with write_server({1: unit}) as server:
        data = config_data(tmp_path, mosquitto.port, [writable_furnace(server.port)])
        async with running_gateway(tmp_path / "gw.yaml", data) as gw:
            status = gw.gateway.devices["furnace-1"].status
            await eventually(lambda: status.state is DeviceState.ONLINE)
            yield gw, unit


def row(page: Page, signal: str):  # type: ignore[no-untyped-def]
    return page.locator(f'[data-values="furnace-1"] tr[data-signal="{signal}"]')


async def test_a_setpoint_written_from_the_page_shows_its_read_back(
    plant: tuple[RunningGateway, WriteBank], browser: Browser
) -> None:
    gw, unit = plant
    page = await open_page(browser, gw)
    await page.click('nav a[data-tab="values"]')
    setpoint = row(page, "temp_setpoint")
    await expect(setpoint.locator(".value")).to_have_text("200")
    await expect(setpoint.locator(".limits")).to_have_text("from 20 to 1600")
    field = setpoint.locator('input[type="number"]')
    await expect(field).to_have_attribute("max", "1600")
    await expect(row(page, "melt_temp").locator(".write")).to_have_count(0)  # not writable

    # No token yet: asked first, then the confirmation names machine, signal and value.
    await field.fill("1450")
    await setpoint.locator("button.write-set").click()
    await page.fill("#token-input", TOKEN)
    await page.click("#token-ok")
    await expect(page.locator("#write-question")).to_have_text(
        "Write 1450 to temp_setpoint of machine furnace-1? The machine acts on it at once."
    )
    await shot(page, "values-write-confirm.png")
    await page.click("#write-ok")
    result = setpoint.locator(".write-result")
    await expect(result).to_have_text("Written; the machine reads back 1450.")
    await expect(result).to_have_class("write-result good")
    assert unit.writes == [16]
    assert float32([int(unit.tables["holding"][a]) for a in (50, 51)]) == 1450.0
    await expect(setpoint.locator(".value")).to_have_text("1450")
    await shot(page, "values-write.png")

    # Above max: the gateway's 422 is shown in the row, and nothing reaches the machine.
    await field.fill("1700")
    await field.press("Enter")  # opens the confirmation; never confirms it by itself
    await expect(page.locator("#write-cancel")).to_be_focused()
    await page.click("#write-ok")
    await expect(result).to_contain_text("(422)")
    await expect(result).to_contain_text("above its max 1600")
    await expect(result).to_have_class("write-result bad")
    assert unit.writes == [16]

    # A confirmation cancelled writes nothing.
    await field.fill("1500")
    await setpoint.locator("button.write-set").click()
    await page.click("#write-cancel")
    await expect(page.locator("#write-dialog")).not_to_be_visible()
    assert unit.writes == [16]

    # A coil: a switch, unchanged until the machine reads back.
    reset = row(page, "counter_reset")
    switch = reset.locator("input.switch")
    await expect(switch).not_to_be_checked()
    await switch.click()
    await page.click("#write-ok")
    await expect(reset.locator(".write-result")).to_have_text(
        "Written; the machine reads back true."
    )
    assert unit.writes == [16, 5]
    assert unit.tables["coil"][7] is True
    await expect(switch).to_be_checked()


async def test_the_write_control_speaks_bahasa_indonesia(
    plant: tuple[RunningGateway, WriteBank], browser: Browser
) -> None:
    gw, unit = plant
    page = await open_page(browser, gw, locale="id-ID")
    await page.evaluate(f"sessionStorage.setItem('gerbang.token', {TOKEN!r})")
    await page.click('nav a[data-tab="values"]')
    setpoint = row(page, "temp_setpoint")
    await expect(setpoint.locator(".limits")).to_have_text("dari 20 sampai 1600")
    await expect(setpoint.locator("button.write-set")).to_have_text("Atur")
    await setpoint.locator('input[type="number"]').fill("1200")
    await setpoint.locator("button.write-set").click()  # the token is in the session already
    await expect(page.locator("#write-question")).to_contain_text("Tulis 1200 ke temp_setpoint")
    await page.click("#write-ok")
    await expect(setpoint.locator(".write-result")).to_have_text(
        "Tertulis; mesin membaca kembali 1200."
    )
    assert unit.writes == [16]


def test_every_write_text_is_in_both_languages() -> None:
    static = Path(__file__).resolve().parents[2] / "gateway" / "api" / "static"
    keys = {
        lang: set(
            re.findall(r'^\s*"([\w.]+)":', (static / "i18n" / f"{lang}.js").read_text(), re.M)
        )
        for lang in ("en", "id")
    }
    assert keys["en"] == keys["id"]
    used = set(re.findall(r'\bt\("([\w.]+)"', (static / "writes.js").read_text()))
    assert used and used <= keys["en"], used - keys["en"]
