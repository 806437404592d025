"""The web page in a real browser: headless Chromium (Debian's, driven by Playwright) against a
running gateway that reads a real Modbus server and publishes to a real mosquitto.

Covers what a technician does with it: watch a machine go from online to error when its server
stops, add a machine through the form (test read, token, save) and see it publish, get a bad
field's error beside the field with nothing saved, switch the language, and pick an OPC UA
signal from the browse tree (a real asyncua server). The tests write the
screenshots the README shows (docs/screenshots/*.png).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.api import TOKEN, RunningGateway, config_data, press_device, running_gateway
from tests.support.browser import WAIT_MS, open_page, shot
from tests.support.modbus_server import BankServer
from tests.support.mosquitto import Mosquitto, Subscriber
from tests.support.opcua_server import URI, OpcServer
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

BASE = "factory/pasuruan/casting"


@pytest.fixture
async def gw(
    tmp_path: Path, mosquitto: Mosquitto, modbus: BankServer
) -> AsyncIterator[RunningGateway]:
    data = config_data(
        tmp_path, mosquitto.port, [press_device("press-1", 1, modbus.port, timeout="300ms")]
    )
    async with running_gateway(tmp_path / "gateway.yaml", data) as running:
        yield running


async def test_overview_shows_a_device_going_from_online_to_error(
    gw: RunningGateway, modbus: BankServer, browser: Browser
) -> None:
    page = await open_page(browser, gw)
    card = page.locator('[data-device="press-1"]')
    await expect(card.locator('[data-state="online"]')).to_have_text("Online: reading")
    await expect(page.locator("#gw-id")).to_have_text("api-test")
    await expect(page.locator("#gw-place")).to_have_text("pasuruan / casting")
    await expect(page.locator('[data-sink="mqtt"]')).to_contain_text("Connected")
    await shot(page, "overview.png")

    # Live values: every signal with value and unit; a trend once the sampler has two points.
    await page.click('nav a[data-tab="values"]')
    row = page.locator('[data-values="press-1"] tr[data-signal="melt_temp"]')
    await expect(row.locator(".value")).to_have_text("1000 degC")
    await expect(
        page.locator('[data-values="press-1"] tr[data-signal="power_kw"] .value')
    ).to_have_text("4.2")
    # The trend: the points kept by the gateway (one per 5 s) and the live value; it moves.
    modbus.banks[1].set("holding", 0, [1040])
    await expect(row.locator(".value")).to_have_text("1040 degC")
    await expect(row.locator("svg.spark path")).to_have_count(1)
    await shot(page, "values.png")

    await page.click('nav a[data-tab="overview"]')
    await modbus.stop()
    await expect(card.locator('[data-state="error"]')).to_have_text("Error: not answering")
    await expect(card.locator(".problem").first).to_contain_text("press-1")
    # The page was not reloaded: the change came over the event stream.
    assert await page.evaluate("performance.getEntriesByType('navigation').length") == 1

    phone = await open_page(
        browser, gw, viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    await expect(phone.locator('[data-device="press-1"] [data-state="error"]')).to_be_visible()
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is wider than a phone screen: {width}px"
    await shot(phone, "overview-phone.png")


async def fill_device(page: Page, device_id: str, port: int, address: str = "0") -> None:
    await page.click('nav a[data-tab="configure"]')
    await page.click("#add-device")
    await page.fill('[data-path="id"]', device_id)
    await page.fill('[data-path="host"]', "127.0.0.1")
    await page.fill('[data-path="port"]', str(port))
    await page.fill('[data-path="unit"]', "2")
    await page.fill('[data-path="interval"]', "200ms")
    await page.fill('[data-path="signals[0].name"]', "temp")
    await page.select_option('[data-path="signals[0].table"]', "holding")
    await page.fill('[data-path="signals[0].address"]', address)
    await page.select_option('[data-path="signals[0].type"]', "uint16")


async def test_a_device_added_through_the_form_publishes_values(
    gw: RunningGateway, modbus: BankServer, mosquitto: Mosquitto, browser: Browser
) -> None:
    async with Subscriber(mosquitto, f"{BASE}/press-2/#") as sub:
        await sub.ready()
        page = await open_page(browser, gw)
        await fill_device(page, "press-2", modbus.port)

        # Test read first: the token is asked once, then the machine is read without saving.
        await page.click("#test-read")
        await page.fill("#token-input", TOKEN)
        await page.click("#token-ok")
        await expect(page.locator('#test-result tr[data-signal="temp"]')).to_contain_text("1000")
        assert gw.store.config.device("press-2") is None
        await shot(page, "configure.png")

        await page.click("#save-device")  # the token is kept in the tab's session
        await expect(page.locator("#cfg-message")).to_have_text("Saved. The gateway uses it now.")
        await expect(page.locator('#cfg-devices [data-device="press-2"]')).to_be_visible()
        await sub.wait_for(lambda: sub.values(f"{BASE}/press-2/temp"))
        assert sub.values(f"{BASE}/press-2/temp")[0]["value"] == 1000
        assert gw.store.config.device("press-2") is not None
        assert "press-2" in gw.path.read_text()


async def test_a_bad_field_shows_its_error_beside_the_field_and_saves_nothing(
    gw: RunningGateway, modbus: BankServer, browser: Browser
) -> None:
    before = gw.path.read_text()
    page = await open_page(browser, gw)
    await page.evaluate(f"sessionStorage.setItem('gerbang.token', {TOKEN!r})")
    await fill_device(page, "press-3", modbus.port, address="70000")
    await page.click("#save-device")
    error = page.locator('[data-error-for="signals[0].address"]')
    await expect(error).to_contain_text("65535")
    await expect(page.locator('[data-path="signals[0].address"]')).to_have_class("invalid")
    await expect(page.locator("#form-message")).to_have_text(
        "Not saved: fix the fields marked in red."
    )
    # Only that field is marked; the form keeps what was typed.
    assert await page.locator(".invalid").count() == 1
    await expect(page.locator('[data-path="id"]')).to_have_value("press-3")
    await shot(page, "configure-error.png")
    assert gw.path.read_text() == before
    assert gw.store.config.device("press-3") is None
    assert "press-3" not in gw.gateway.devices


async def test_the_language_follows_the_browser_and_the_switch(
    gw: RunningGateway, browser: Browser
) -> None:
    page = await open_page(browser, gw, locale="id-ID")
    html = page.locator("html")
    await expect(html).to_have_attribute("lang", "id")
    await expect(page.locator('nav a[data-tab="overview"]')).to_have_text("Ringkasan")
    await expect(page.locator('[data-device="press-1"] [data-state="online"]')).to_have_text(
        "Online: sedang dibaca"
    )
    await page.click("#lang-switch")
    await expect(html).to_have_attribute("lang", "en")
    await expect(page.locator('nav a[data-tab="overview"]')).to_have_text("Overview")
    await expect(page.locator("#lang-switch")).to_have_text("Bahasa Indonesia")
    await expect(page.locator('[data-device="press-1"] [data-state="online"]')).to_have_text(
        "Online: reading"
    )
    # The choice is remembered over the browser's language.
    await page.reload()
    await expect(html).to_have_attribute("lang", "en")
    await page.click("#lang-switch")
    await expect(html).to_have_attribute("lang", "id")
    await expect(page).to_have_title("Gateway Gerbang")


def roaster_data(tmp_path: Path, mosquitto: Mosquitto, opc: OpcServer, node: str) -> dict[str, Any]:
    """A config whose one device reads `node` of `opc` by subscription, every 200 ms (a
    keep-alive about every 3 s)."""
    roaster = {
        "id": "roaster-1",
        "protocol": "opcua",
        "endpoint": opc.endpoint,
        "interval": "200ms",
        "signals": [{"name": node.rpartition(".")[2].lower(), "node": f"nsu={URI};s={node}"}],
    }
    return config_data(tmp_path, mosquitto.port, [roaster])


async def test_an_opcua_signal_is_picked_from_the_browse_tree(
    tmp_path: Path, mosquitto: Mosquitto, browser: Browser, opc: OpcServer
) -> None:
    data = roaster_data(tmp_path, mosquitto, opc, "Furnace.Temperature")
    async with running_gateway(tmp_path / "gateway.yaml", data) as gw:
        page = await open_page(browser, gw, locale="id-ID")
        await page.evaluate(f"sessionStorage.setItem('gerbang.token', {TOKEN!r})")
        await page.click('nav a[data-tab="configure"]')
        await page.click('#cfg-devices [data-device="roaster-1"] button >> nth=0')
        await page.click("#browse-button")
        # A browse name with "/" in it is one node at its own level (the tree is built
        # from each level's answer, never by splitting paths).
        top = page.locator("#browse-tree > ul > li")
        line = top.and_(page.locator(f'li[data-node="nsu={URI};s=Line/1"]'))
        await expect(line).to_have_count(1)
        after = top.and_(page.locator(f'li[data-node="nsu={URI};s=After"]'))
        await expect(after).to_have_count(1)
        await line.locator("button.expand").click()
        speed = line.locator(f'ul > li[data-node="nsu={URI};s=Line/1.Speed"]')
        await expect(speed).to_contain_text("Speed/rpm")
        furnace = page.locator(f'#browse-tree li[data-node="nsu={URI};s=Furnace"]')
        await furnace.locator("button.expand").click()
        parts = furnace.locator(f'li[data-node="nsu={URI};s=Furnace.Parts"]')
        await parts.locator("button.pick").click()
        node = page.locator('[data-path="signals[1].node"]')
        await expect(node).to_have_value(f"nsu={URI};s=Furnace.Parts")
        await expect(page.locator('[data-path="signals[1].name"]')).to_have_value("parts")
        await shot(page, "configure-browse.png")
        await page.click("#save-device")
        await expect(page.locator("#cfg-message")).to_have_text(
            "Tersimpan. Gateway langsung memakainya."
        )
        device = gw.store.config.device("roaster-1")
        assert device is not None
        assert [s.name for s in device.signals] == ["temperature", "parts"]
        board = gw.gateway.board
        await eventually(lambda: "parts" in board.latest("roaster-1"))


async def test_a_steady_subscribed_value_says_unchanged_not_stale(
    tmp_path: Path, mosquitto: Mosquitto, browser: Browser, opc: OpcServer
) -> None:
    """An OPC UA value that never changes is published once (and at its heartbeat, 60 s): its
    age grows while the subscription's keep-alives say it is current, and the page says so."""
    data = roaster_data(tmp_path, mosquitto, opc, "Furnace.Recipe")
    async with running_gateway(tmp_path / "gateway.yaml", data) as gw:
        page = await open_page(browser, gw)
        await page.click('nav a[data-tab="values"]')
        age = page.locator('[data-values="roaster-1"] tr[data-signal="recipe"] td.age')
        await expect(age).to_contain_text("s ago")
        # A keep-alive 5 s or more after the value's own time: "unchanged, read ...".
        await expect(age.locator(".unchanged")).to_contain_text(
            "(unchanged, read", timeout=WAIT_MS + 10_000
        )
        await page.click("#lang-switch")
        await expect(age.locator(".unchanged")).to_contain_text("(tidak berubah, dibaca")


CSP_WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
    (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""
"""Records every Content-Security-Policy violation of the page (blocked script, style, ...)."""


async def test_the_page_and_docs_work_under_the_content_security_policy(
    gw: RunningGateway, browser: Browser
) -> None:
    context = await browser.new_context(locale="en-US")
    await context.add_init_script(CSP_WATCH)
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    response = await page.goto(gw.base_url + "/")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    card = page.locator('[data-device="press-1"]')
    await expect(card.locator('[data-state="online"]')).to_have_text("Online: reading")
    await page.click('nav a[data-tab="values"]')
    row = page.locator('[data-values="press-1"] tr[data-signal="melt_temp"]')
    await expect(row.locator(".value")).to_have_text("1000 degC")
    await page.click('nav a[data-tab="configure"]')
    await page.click("#add-device")
    await expect(page.locator("#device-form")).to_be_visible()
    assert await page.evaluate("window.__csp") == []

    docs = await page.goto(gw.base_url + "/docs")
    assert docs is not None and docs.headers["x-content-type-options"] == "nosniff"
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Gerbang")
    assert await page.evaluate("window.__csp") == []
    await context.close()
