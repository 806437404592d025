"""OEE in the running gateway: a real Modbus press, mosquitto, the Gateway in this process.

The test scripts the press's state and counter registers (run, make parts, fault, setup), and
reads the retained `$oee` payloads the gateway publishes every second. Time is the wall clock:
each phase lasts until a payload shows it long enough, and the expected seconds come from the
test's own clock around each register change, within the poll interval and a tick of slack.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.config.models import Config
from gateway.service import Gateway
from tests.support.modbus_server import BankServer, bank_server
from tests.support.mosquitto import Mosquitto, Subscriber
from tests.support.oee import (
    FAULT,
    IDEAL_CYCLE_S,
    RUNNING,
    SETUP,
    press_oee_device,
    press_registers,
    set_machine,
    site_oee,
)

pytestmark = pytest.mark.integration

TOPIC = "factory/pasuruan/casting/press-1/$oee"
SPEC_KEYS = {
    "shift",
    "shift_start",
    "ts",
    "planned_s",
    "run_s",
    "availability",
    "performance",
    "quality",
    "oee",
    "total",
    "good",
    "stops",
    "downtime_s",
    "unknown_s",
}
SLACK_S = 0.5
"""A transition is seen at the first scan after it (100 ms) plus the scan's own time."""


def config(tmp_path: Path, broker: Mosquitto, server: BankServer) -> Config:
    return Config.model_validate(
        {
            "version": 1,
            "gateway": {"id": "oee-test", "site": "pasuruan", "area": "casting"},
            "mqtt": {"port": broker.port},
            "buffer": {"path": str(tmp_path / "buffer")},
            "oee": site_oee(),
            "devices": [press_oee_device("press-1", server.port)],
        }
    )


async def payload_where(
    subscriber: Subscriber, test: Callable[[dict[str, Any]], bool], timeout: float = 15
) -> dict[str, Any]:
    """The first `$oee` payload that passes `test` (waiting for it)."""

    def found() -> dict[str, Any] | None:
        return next((p for p in subscriber.values(TOPIC) if test(p)), None)

    await subscriber.wait_for(found, timeout)
    payload = found()
    assert payload is not None
    return payload


async def test_oee_follows_a_scripted_shift_and_survives_a_restart(
    tmp_path: Path, mosquitto: Mosquitto, subscriber: Subscriber
) -> None:
    bank = press_registers(RUNNING, 100, 100)
    async with bank_server({1: bank}) as server:
        cfg = config(tmp_path, mosquitto, server)
        gateway = Gateway(cfg)
        started = time.time()
        await gateway.start()
        try:
            # Running: 4 parts, one of them bad, in 2 s or more.
            first = await payload_where(subscriber, lambda p: p["run_s"] > 0)
            assert first.keys() >= SPEC_KEYS, SPEC_KEYS - first.keys()
            assert first["shift"] == "pagi" and first["device"] == "press-1"
            set_machine(bank, RUNNING, 104, 103)
            await payload_where(subscriber, lambda p: p["run_s"] >= 2.0 and p["total"] == 4)
            faulted = time.time()
            set_machine(bank, FAULT, 104, 103)
            down = await payload_where(subscriber, lambda p: p["downtime_s"] >= 2.0)
            setup = time.time()
            set_machine(bank, SETUP, 104, 103)
            await payload_where(subscriber, lambda p: p["planned_stop_s"] >= 1.0)
            resumed = time.time()
            set_machine(bank, RUNNING, 104, 103)
            after = await payload_where(subscriber, lambda p: p["run_s"] >= down["run_s"] + 1.5)
        finally:
            await gateway.stop(2.0)

        # Figures that follow from the timeline (payload times are when they were computed).
        run_s = (faulted - started) + (after["ts"] / 1000 - resumed)
        assert after["run_s"] == pytest.approx(run_s, abs=3 * SLACK_S)
        assert after["downtime_s"] == pytest.approx(setup - faulted, abs=2 * SLACK_S)
        assert after["planned_stop_s"] == pytest.approx(resumed - setup, abs=2 * SLACK_S)
        assert after["planned_s"] == pytest.approx(after["run_s"] + after["downtime_s"], abs=0.01)
        assert (after["total"], after["good"], after["stops"]) == (4, 3, 1)
        assert after["quality"] == 0.75
        assert after["availability"] == pytest.approx(after["run_s"] / after["planned_s"], abs=1e-3)
        assert after["performance"] == pytest.approx(IDEAL_CYCLE_S * 4 / after["run_s"], abs=1e-3)
        assert after["oee"] == pytest.approx(
            after["availability"] * after["performance"] * after["quality"], abs=1e-3
        )
        # Before the gateway started (the shift began an hour ago) nothing was known.
        assert 3600 <= after["unknown_s"] <= 3600 + 60 + 10
        # Retained: a newcomer gets the latest figures at once.
        async with Subscriber(mosquitto, TOPIC) as newcomer:
            await newcomer.wait_for(lambda: newcomer.on(TOPIC), 10)
            retained = newcomer.on(TOPIC)[0]
        assert retained.retain
        assert retained.json()["run_s"] >= after["run_s"]
        # The state file holds the shift.
        state = orjson.loads((tmp_path / "oee.json").read_bytes())
        assert state["devices"]["press-1"]["current"]["total"] == 4

        # The gateway is down while 2 more parts are made (both good); it comes back.
        set_machine(bank, RUNNING, 106, 105)
        last = subscriber.values(TOPIC)[-1]
        gateway = Gateway(cfg)
        restarted_ms = int(time.time() * 1000)
        await gateway.start()
        try:
            back = await payload_where(
                subscriber, lambda p: p["ts"] > restarted_ms and p["total"] != 4
            )
        finally:
            await gateway.stop(2.0)
        assert back["shift_start"] == after["shift_start"]
        assert (back["total"], back["good"], back["stops"]) == (6, 5, 1), "no loss, no double"
        assert back["downtime_s"] == pytest.approx(after["downtime_s"], abs=0.2)
        assert back["run_s"] >= after["run_s"]
        assert back["unknown_s"] > last["unknown_s"], "the time the gateway was down is unknown"


async def test_a_gateway_without_a_site_oee_block_computes_no_oee(
    tmp_path: Path, mosquitto: Mosquitto, subscriber: Subscriber
) -> None:
    bank = press_registers()
    async with bank_server({1: bank}) as server:
        device = press_oee_device("press-1", server.port)
        del device["oee"]
        cfg = Config.model_validate(
            {
                "version": 1,
                "gateway": {"id": "oee-test", "site": "pasuruan", "area": "casting"},
                "mqtt": {"port": mosquitto.port},
                "buffer": {"path": str(tmp_path / "buffer")},
                "devices": [device],
            }
        )
        gateway = Gateway(cfg)
        assert gateway.oee.service is None
        assert gateway.pipeline.observers == [gateway.alarms], "alarms only, no OEE"
        await gateway.start()
        try:
            state_topic = "factory/pasuruan/casting/press-1/state"
            await subscriber.wait_for(lambda: len(subscriber.values(state_topic)) >= 3, 10)
        finally:
            await gateway.stop(2.0)
        assert not subscriber.on(TOPIC)
        assert not (tmp_path / "oee.json").exists()


async def test_a_device_whose_oee_is_removed_withdraws_its_retained_figures(
    tmp_path: Path, mosquitto: Mosquitto, subscriber: Subscriber
) -> None:
    bank = press_registers(RUNNING, 100, 100)
    async with bank_server({1: bank}) as server:
        cfg = config(tmp_path, mosquitto, server)
        gateway = Gateway(cfg)
        await gateway.start()
        try:
            await payload_where(subscriber, lambda p: p["run_s"] > 0)
            data = cfg.model_dump(mode="json", exclude_unset=True)
            del data["devices"][0]["oee"]
            await gateway.reconcile(Config.model_validate(data))
            await subscriber.wait_for(
                lambda: [m.payload for m in subscriber.on(TOPIC)][-1:] == [b""]
            )
            assert gateway.oee.service is not None and gateway.oee.service.devices() == []
            # A newcomer is handed the device's retained `$state`, and no `$oee`.
            device_topic = TOPIC.removesuffix("/$oee")
            async with Subscriber(mosquitto, f"{device_topic}/#") as newcomer:
                await newcomer.wait_for(lambda: newcomer.on(f"{device_topic}/$state"), 10)
                assert newcomer.on(TOPIC) == []
        finally:
            await gateway.stop(2.0)
