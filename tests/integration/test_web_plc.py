"""The configure form with Siemens S7 and MELSEC machines, in a real browser (headless Chromium,
as tests/integration/test_web.py drives it): the S7 and MC connection fields, addresses as the
makers' tools write them, a test read against python-snap7's server and our MC server, and a
save that the gateway then reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from simulators.frontends.mc_server import McMemory, McServer
from simulators.frontends.s7_server import S7Memory
from tests.integration.test_web import browser, open_page  # noqa: F401 - the fixture
from tests.support.api import TOKEN, RunningGateway, config_data, running_gateway
from tests.support.mosquitto import Mosquitto
from tests.support.wait import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def s7() -> AsyncIterator[S7Memory]:
    memory = S7Memory()
    memory.add_db(1, 16)
    memory.pack("DB", 1, 4, ">f", 812.5)
    memory.start()
    yield memory
    memory.stop()


@pytest.fixture
async def mc() -> AsyncIterator[McServer]:
    memory = McMemory({"D": 1000, "M": 100})
    memory.pack("D", 200, "<I", 70_000)
    async with McServer(memory) as server:
        yield server


@pytest.fixture
async def gw(tmp_path: Path, mosquitto: Mosquitto) -> AsyncIterator[RunningGateway]:
    async with running_gateway(
        tmp_path / "gateway.yaml", config_data(tmp_path, mosquitto.port, [])
    ) as running:
        yield running


async def new_machine(page: Page, device_id: str, protocol: str, port: int) -> None:
    await page.click('nav a[data-tab="configure"]')
    await page.click("#add-device")
    await page.fill('[data-path="id"]', device_id)
    # Chosen after the Modbus defaults were drawn: their fields (unit, table) must not linger.
    await page.select_option('[data-path="protocol"]', protocol)
    await expect(page.locator('[data-path="unit"]')).to_have_count(0)
    await expect(page.locator('[data-path="signals[0].table"]')).to_have_count(0)
    await page.fill('[data-path="host"]', "127.0.0.1")
    await page.fill('[data-path="port"]', str(port))
    await page.fill('[data-path="interval"]', "200ms")


async def test_an_s7_machine_added_through_the_form(
    gw: RunningGateway,
    s7: S7Memory,
    browser: Browser,  # noqa: F811 - the fixture imported above
) -> None:
    page = await open_page(browser, gw)
    await page.evaluate(f"sessionStorage.setItem('gerbang.token', {TOKEN!r})")
    await new_machine(page, "press-3", "s7", s7.port)
    await page.fill('[data-path="rack"]', "0")
    await page.fill('[data-path="slot"]', "1")
    await page.fill('[data-path="signals[0].name"]', "oil_temp")
    await page.fill('[data-path="signals[0].address"]', "DB1.DBD4")
    await page.select_option('[data-path="signals[0].type"]', "float32")
    await page.click("#test-read")
    await expect(page.locator('#test-result tr[data-signal="oil_temp"]')).to_contain_text("812.5")
    assert gw.store.config.device("press-3") is None
    await page.click("#save-device")
    await expect(page.locator("#cfg-message")).to_have_text("Saved. The gateway uses it now.")
    await eventually(lambda: "oil_temp" in gw.gateway.board.latest("press-3"))
    assert gw.gateway.board.latest("press-3")["oil_temp"].value == 812.5
    saved = gw.store.config.device("press-3")
    assert saved is not None and (saved.protocol, saved.rack, saved.slot) == ("s7", 0, 1)


async def test_an_mc_machine_with_a_malformed_address(
    gw: RunningGateway,
    mc: McServer,
    browser: Browser,  # noqa: F811 - the fixture imported above
) -> None:
    page = await open_page(browser, gw)
    await page.evaluate(f"sessionStorage.setItem('gerbang.token', {TOKEN!r})")
    await new_machine(page, "welder-2", "mc", mc.port)
    await page.fill('[data-path="signals[0].name"]', "welds")
    await page.fill('[data-path="signals[0].address"]', "Q200")
    await page.select_option('[data-path="signals[0].type"]', "uint32")
    await page.click("#save-device")
    await expect(page.locator('[data-error-for="signals[0].address"]')).to_contain_text(
        "'Q' is not a device"
    )
    assert gw.store.config.device("welder-2") is None
    await page.fill('[data-path="signals[0].address"]', "D200")
    await page.click("#test-read")
    await expect(page.locator('#test-result tr[data-signal="welds"]')).to_contain_text("70000")
