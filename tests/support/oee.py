"""A machine whose OEE a test scripts: its Modbus registers, its device entry, a site calendar.

The press reads holding 0 `state` (3 running, 1 planned setup, anything else a stop), holding 1
`parts_total` and holding 2 `parts_good`, every 100 ms. The site's one shift is placed around
the test's own time (an hour before to an hour after, in Asia/Jakarta), so a test never runs
into a shift change, whatever the hour it runs at.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.support.modbus_server import RegisterBank

TIMEZONE = "Asia/Jakarta"
RUNNING, SETUP, FAULT = 3, 1, 4
IDEAL_CYCLE_S = 0.5
MICRO_STOP_S = 1.0


def press_registers(state: int = RUNNING, total: int = 0, good: int = 0) -> RegisterBank:
    """The press's registers with a state and both counters."""
    bank = RegisterBank()
    bank.set("holding", 0, [state, total, good])
    return bank


def set_machine(bank: RegisterBank, state: int, total: int, good: int) -> None:
    """The machine's state and counters, all at once."""
    bank.set("holding", 0, [state, total, good])


def site_oee(**extra: Any) -> dict[str, Any]:
    """A site `oee:` block: one shift from an hour ago to an hour ahead, published every 1 s."""
    now = datetime.now(ZoneInfo(TIMEZONE))
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    return {
        "timezone": TIMEZONE,
        "shifts": [{"name": "pagi", "start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}],
        "publish_interval": "1s",
        "stop_reasons": [
            {"code": "no_material", "en": "No material", "id": "Bahan habis"},
            {"code": "tool_change", "en": "Tool change", "id": "Ganti cetakan"},
        ],
    } | extra


def press_oee_device(device_id: str, port: int, unit: int = 1) -> dict[str, Any]:
    """A Modbus TCP device entry reading `press_registers`, with its `oee:` block."""
    return {
        "id": device_id,
        "protocol": "modbus-tcp",
        "host": "127.0.0.1",
        "port": port,
        "unit": unit,
        "interval": "100ms",
        "signals": [
            {"name": "state", "table": "holding", "address": 0, "type": "uint16"},
            {"name": "parts_total", "table": "holding", "address": 1, "type": "uint16"},
            {"name": "parts_good", "table": "holding", "address": 2, "type": "uint16"},
        ],
        "oee": {
            "state": {"signal": "state", "running": [RUNNING], "planned": [SETUP]},
            "total_count": "parts_total",
            "good_count": "parts_good",
            "ideal_cycle_time": f"{IDEAL_CYCLE_S}s",
            "micro_stop": f"{MICRO_STOP_S}s",
        },
    }
