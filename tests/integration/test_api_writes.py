"""The write routes over real HTTP, against a running gateway, a real pymodbus server and a real
mosquitto: codes per SPEC, nothing written on a refusal (checked at the server), the record."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.model import DeviceState
from tests.support.api import config_data, running_gateway
from tests.support.mosquitto import Mosquitto
from tests.support.wait import eventually
from tests.support.write_server import WriteBank, writable_furnace, write_server

pytestmark = pytest.mark.integration

URL = "/api/v1/devices/furnace-1/signals/{}/write"


async def test_write_routes_answer_per_spec(tmp_path: Path, mosquitto: Mosquitto) -> None:
    unit = WriteBank()
    unit.set("holding", 50, [0x4348, 0])
    unit.set("holding", 60, [0x44B5, 0x4000])
    unit.set("coil", 7, [False])
    async with write_server({1: unit}) as server:
        data = config_data(tmp_path, mosquitto.port, [writable_furnace(server.port)])
        async with running_gateway(tmp_path / "gw.yaml", data) as gw:
            status = gw.gateway.devices["furnace-1"].status
            await eventually(lambda: status.state is DeviceState.ONLINE)
            client, auth = gw.client, gw.auth()

            answer = await client.post(
                URL.format("temp_setpoint"), json={"value": 1450}, headers=auth
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert (body["value"], body["read_back"]) == (1450, 1450.0) and body["ts"] > 0
            assert unit.writes == [16]

            refused = [
                (URL.format("temp_setpoint"), {"value": 1700}, {}, 422),
                (URL.format("temp_setpoint"), {"value": "hot"}, {}, 422),
                (URL.format("melt_temp"), {"value": 1.0}, {}, 422),
                (URL.format("counter_reset"), {"value": 1}, {}, 422),
                (URL.format("temp_setpoint"), {"value": 1450}, None, 401),
                (URL.format("temp_setpoint"), {"value": 1450}, {"Authorization": "Bearer x"}, 401),
                (URL.format("nope"), {"value": 1}, {}, 404),
                ("/api/v1/devices/ghost/signals/x/write", {"value": 1}, {}, 404),
                (URL.format("temp_setpoint"), {"valu": 1}, {}, 400),
                ("/api/v1/devices/furnace-1/methods/start", {"args": []}, {}, 404),
            ]
            for url, payload, headers, code in refused:
                sent = auth if headers == {} else (headers or {})
                answer = await client.post(url, json=payload, headers=sent)
                assert answer.status_code == code, (url, payload, answer.text)
                assert isinstance(answer.json()["detail"], str)
            assert unit.writes == [16]  # nothing more written

            unit.ignore_writes = True
            answer = await client.post(
                URL.format("temp_setpoint"), json={"value": 900}, headers=auth
            )
            assert answer.status_code == 502
            assert (answer.json()["written"], answer.json()["read_back"]) == (900, 1450.0)
            unit.ignore_writes = False

            unit.silent = True
            answer = await client.post(
                URL.format("counter_reset"), json={"value": True}, headers=auth
            )
            assert answer.status_code == 504, answer.text
            unit.silent = False

            listed = (await client.get("/api/v1/writes", params={"limit": 50})).json()
            assert listed[0]["result"] == "unreachable" and listed[1]["result"] == "mismatch"
            assert listed[-1] == listed[-1] | {
                "who": "technician",
                "signal": "temp_setpoint",
                "value": 1450,
                "result": "ok",
            }
            # A 401 names no one: it is not recorded (anyone could fill the record). A 400 is
            # a token holder's attempt: recorded as refused, with the reason.
            assert len(listed) == 1 + 8 + 2
            malformed = [e for e in listed if "unknown fields valu" in (e["error"] or "")]
            assert [(e["who"], e["result"], e["value"]) for e in malformed] == [
                ("technician", "refused", None)
            ]
