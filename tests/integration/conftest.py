"""Fixtures shared by the integration test modules (each test module keeps its own fixtures;
what two modules need lives here, its helpers in tests/support/).

- `pty_pair`: a serial line without hardware (socat), for Modbus RTU;
- `reader`: OPC UA pollers reading into a collecting pipeline, cancelled at the end;
- `browser`: a headless Chromium for the web page tests (tests/support/browser.py);
- `modbus`: a Modbus TCP server with units 1, 2 and 3 holding the `press_bank` registers, for
  the gateways the API and web page tests run (tests/support/api.py);
- `opc`: the OPC UA test server (tests/support/opcua_server.py), with the browse names that
  hold a "/" (`add_names_with_slashes`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser

from tests.support.api import press_bank
from tests.support.browser import launched_browser, use_scratch
from tests.support.modbus_server import BankServer
from tests.support.opcua_reader import Reader
from tests.support.opcua_server import OpcServer
from tests.support.serial_line import socat_pty_pair


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two linked pseudo-terminals made by socat: (server end, client end)."""
    with socat_pty_pair(tmp_path) as pair:
        yield pair


@pytest.fixture
async def reader() -> AsyncIterator[Reader]:
    """A `Reader` whose pollers are cancelled after the test."""
    holder = Reader()
    yield holder
    await holder.close()


@pytest.fixture
async def modbus() -> AsyncIterator[BankServer]:
    """A Modbus TCP server on loopback, units 1, 2 and 3 each a `press_bank()`."""
    server = BankServer({1: press_bank(), 2: press_bank(), 3: press_bank()})
    await server.start_tcp()
    yield server
    await server.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A headless Chromium (Debian's), closed at the end of the test."""
    async with launched_browser() as launched:
        yield launched


@pytest.fixture(autouse=True, scope="module")
def scratch_screenshots(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Screenshots taken outside `make screenshots` go to this module's temporary folder."""
    use_scratch(tmp_path_factory.mktemp("screenshots"))


@pytest.fixture
async def opc() -> AsyncIterator[OpcServer]:
    """The OPC UA test server on a free loopback port, with names holding a "/"."""
    server = OpcServer()
    await server.start()
    await server.add_names_with_slashes()
    yield server
    await server.stop()
