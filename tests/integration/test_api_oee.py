"""OEE over real HTTP: figures per machine and shift, the timeline, stops and naming their reason.

A real Modbus press (its state register scripted by the test) is read by the gateway running in
this process; the test talks to its uvicorn server with httpx, as curl or the page would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.api import RunningGateway, config_data, running_gateway
from tests.support.modbus_server import bank_server
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


async def stops_of(gw: RunningGateway, device: str = "press-1") -> list[dict[str, Any]]:
    answer = await gw.client.get(f"/api/v1/devices/{device}/stops")
    assert answer.status_code == 200, answer.text
    return answer.json()["stops"]


async def test_figures_timeline_and_a_stop_named_by_a_technician(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    bank = press_registers(RUNNING, 10, 10)
    async with bank_server({1: bank}) as server:
        devices = [
            press_oee_device("press-1", server.port),
            {**press_oee_device("plain", server.port), "oee": None},
        ]
        data = config_data(tmp_path, mosquitto.port, devices) | {"oee": site_oee()}
        async with running_gateway(tmp_path / "gateway.json", data) as gw:

            async def running_a_while() -> bool:
                body = (await gw.client.get("/api/v1/oee/press-1")).json()
                return bool(body["current"] and body["current"]["run_s"] >= 1.0)

            await eventually_async(running_a_while)
            set_machine(bank, FAULT, 12, 11)

            async def a_stop() -> list[dict[str, Any]]:
                return await stops_of(gw)

            [stop] = await eventually_async(a_stop)  # a fault longer than micro_stop (1 s)
            assert stop["reason"] == f"state {FAULT}" and stop["state"] == FAULT
            assert stop["end"] is None
            set_machine(bank, RUNNING, 12, 11)

            async def ended() -> bool:
                return (await stops_of(gw))[0]["end"] is not None

            await eventually_async(ended)

            overview = (await gw.client.get("/api/v1/oee")).json()
            assert overview["timezone"] == "Asia/Jakarta"
            assert [r["code"] for r in overview["reasons"]] == ["no_material", "tool_change"]
            [machine] = overview["devices"]  # the plain device computes no OEE
            assert machine["device"] == "press-1" and machine["previous"] is None
            current = machine["current"]
            assert (current["total"], current["good"], current["stops"]) == (2, 1, 1)
            assert current["shift"] == "pagi" and current["downtime_s"] >= 1.0

            detail = (await gw.client.get("/api/v1/oee/press-1")).json()
            conditions = [segment["condition"] for segment in detail["timeline"]]
            assert conditions == ["running", "stopped", "running"], detail["timeline"]
            assert detail["timeline"][1]["start"] == stop["start"]
            assert detail["timeline"][-1]["end"] is None

            url = f"/api/v1/devices/press-1/stops/{stop['id']}"
            refused = await gw.client.put(url, json={"reason": "no_material"})
            assert refused.status_code == 401
            assert (await stops_of(gw))[0]["reason"] == f"state {FAULT}", "nothing changed"

            named = await gw.client.put(url, json={"reason": "no_material"}, headers=gw.auth())
            assert named.status_code == 200, named.text
            assert named.json()["reason"] == "no_material"
            free = await gw.client.put(
                url, json={"reason": "  operator at lunch "}, headers=gw.auth()
            )
            assert free.json()["reason"] == "operator at lunch"
            assert (await stops_of(gw))[0]["reason"] == "operator at lunch"

            for body, status in [
                ({"reason": ""}, 422),
                ({"reason": "   "}, 422),
                ({"reason": "x" * 201}, 422),
                ({}, 422),
            ]:
                answer = await gw.client.put(url, json=body, headers=gw.auth())
                assert answer.status_code == status, (body, answer.text)
                assert isinstance(answer.json()["detail"], str)
            for path in (
                "/api/v1/oee/plain",
                "/api/v1/oee/nothing",
                "/api/v1/devices/plain/stops",
                "/api/v1/devices/press-1/stops/999",
            ):
                method = "PUT" if path.endswith("999") else "GET"
                answer = await gw.client.request(
                    method, path, json={"reason": "x"}, headers=gw.auth()
                )
                assert answer.status_code == 404, (path, answer.text)
                assert answer.json()["detail"]

        # The name was saved: a restart keeps it.
        async with running_gateway(tmp_path / "gateway.json", data) as gw:
            assert (await stops_of(gw))[0]["reason"] == "operator at lunch"


async def test_a_gateway_without_oee_lists_no_machines(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    async with bank_server({1: press_registers()}) as server:
        device = {**press_oee_device("press-1", server.port), "oee": None}
        data = config_data(tmp_path, mosquitto.port, [device])
        async with running_gateway(tmp_path / "gateway.json", data) as gw:
            overview = await gw.client.get("/api/v1/oee")
            assert overview.status_code == 200
            assert overview.json() == {"timezone": None, "reasons": [], "devices": []}
            missing = await gw.client.get("/api/v1/devices/press-1/stops")
            assert missing.status_code == 404
            assert "no site oee block" in missing.json()["detail"]
