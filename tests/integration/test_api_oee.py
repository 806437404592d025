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


async def test_a_config_put_that_changes_oee_rebuilds_it_and_keeps_the_figures(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    bank = press_registers(RUNNING, 10, 10)
    async with bank_server({1: bank}) as server:
        data = config_data(tmp_path, mosquitto.port, [press_oee_device("press-1", server.port)])
        data["oee"] = site_oee()
        async with running_gateway(tmp_path / "gateway.json", data) as gw:

            async def current() -> dict[str, Any]:
                body = (await gw.client.get("/api/v1/oee/press-1")).json()
                return body["current"] or {}

            async def where(test: Any) -> dict[str, Any]:
                async def check() -> dict[str, Any] | None:
                    figures = await current()
                    return figures if figures and test(figures) else None

                found = await eventually_async(check)
                assert found is not None
                return found

            # 4 parts (one bad), a stop, running again.
            set_machine(bank, RUNNING, 14, 13)
            await where(lambda f: f["total"] == 4 and f["run_s"] >= 0.5)
            set_machine(bank, FAULT, 14, 13)
            [stop] = await eventually_async(lambda: stops_of(gw))
            set_machine(bank, RUNNING, 14, 13)
            await eventually_async(lambda: _ended(gw))
            before = await where(lambda f: f["downtime_s"] >= 1.0)
            service = gw.gateway.oee.service
            assert service is not None

            # A change elsewhere leaves OEE alone.
            shown = (await gw.client.get("/api/v1/config")).json()
            shown["mqtt"]["keepalive"] = "20s"
            put = await gw.client.put("/api/v1/config", json=shown, headers=gw.auth())
            assert put.status_code == 200, put.text
            assert gw.gateway.oee.service is service

            # A new ideal cycle time and publish interval: the service is rebuilt from the
            # state file, and the shift's figures and stops carry on.
            shown = (await gw.client.get("/api/v1/config")).json()
            shown["devices"][0]["oee"]["ideal_cycle_time"] = "250ms"
            shown["oee"]["publish_interval"] = "2s"
            put = await gw.client.put("/api/v1/config", json=shown, headers=gw.auth())
            assert put.status_code == 200, put.text
            rebuilt = gw.gateway.oee.service
            assert rebuilt is not None and rebuilt is not service
            assert service not in gw.gateway.pipeline.observers
            assert gw.gateway.pipeline.observers.count(rebuilt) == 1
            after = await where(lambda f: f["run_s"] > before["run_s"])
            assert after["shift_start"] == before["shift_start"]
            assert (after["total"], after["good"], after["stops"]) == (4, 3, 1), (
                "no loss, no double"
            )
            assert after["downtime_s"] == pytest.approx(before["downtime_s"], abs=0.3)
            assert after["unknown_s"] == pytest.approx(before["unknown_s"], abs=0.5)
            assert after["performance"] == pytest.approx(0.25 * 4 / after["run_s"], abs=1e-3)
            [kept] = await stops_of(gw)
            assert (kept["id"], kept["start"]) == (stop["id"], stop["start"])

            # Parts made after the change are counted once, by the new service.
            set_machine(bank, RUNNING, 16, 15)
            await where(lambda f: f["total"] == 6 and f["good"] == 5)


async def _ended(gw: RunningGateway) -> bool:
    stops = await stops_of(gw)
    return bool(stops) and stops[0]["end"] is not None
