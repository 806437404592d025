"""A device whose signals keep failing says so in its log, not only in status: the online line
names the failing signals and why, a change of the failing set is logged once (never per
scan), and their recovery is logged. A real pymodbus server on loopback."""

from __future__ import annotations

import logging

import pytest

from gateway.config.models import Config
from gateway.service import Gateway
from tests.support.modbus_server import RegisterBank, bank_server
from tests.support.wait import eventually

pytestmark = pytest.mark.integration


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("adapters.modbus")]


async def test_failing_signals_are_named_in_the_log_once_per_change(caplog) -> None:
    caplog.set_level(logging.INFO)
    bank = RegisterBank()
    bank.set("input", 10, [513])
    async with bank_server({1: bank}) as server:
        config = Config.model_validate(
            {
                "version": 1,
                "gateway": {"id": "gw"},
                "mqtt": {"enabled": False},
                "devices": [
                    {
                        "id": "furnace-1",
                        "protocol": "modbus-tcp",
                        "host": "127.0.0.1",
                        "port": server.port,
                        "interval": "100ms",
                        "signals": [
                            {"name": "power_kw", "table": "input", "address": 10},
                            {"name": "melt_temp", "table": "holding", "address": 0},
                        ],
                    }
                ],
            }
        )
        gateway = Gateway(config)
        await gateway.start()
        try:
            online = await eventually(
                lambda: [line for line in lines(caplog) if "online" in line], timeout=10
            )
            assert "1 of 2 signals fail: melt_temp: illegal data address" in online[0]
            assert "holding 0" in online[0]
            status = gateway.board.get("furnace-1").status  # type: ignore[union-attr]
            polls = status.polls_ok
            await eventually(lambda: status.polls_ok >= polls + 5)
            assert sum("signals fail" in line for line in lines(caplog)) == 1  # no storm
            bank.set("holding", 0, [1452])
            await eventually(
                lambda: any("every signal reads again" in line for line in lines(caplog))
            )
            assert status.last_error is None
            bank.unmap("holding", 0)
            again = await eventually(
                lambda: [line for line in lines(caplog) if "signals fail" in line][1:]
            )
            assert "device furnace-1: 1 of 2 signals fail: melt_temp" in again[0]
        finally:
            await gateway.stop(deadline=2)
