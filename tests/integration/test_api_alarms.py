"""Alarms over real HTTP (SPEC "Alarms"): `GET /api/v1/alarms` lists the active ones first by
severity and the recent history; `POST .../ack` needs a change token (401 without, 404 for an
unknown alarm), records who acknowledged, and publishes the acknowledgement on MQTT."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import RunningGateway, config_data, press_bank, press_device, running_gateway
from tests.support.modbus_server import RegisterBank, bank_server
from tests.support.mosquitto import Mosquitto, Subscriber
from tests.support.wait import eventually_async

pytestmark = pytest.mark.integration

TOO_HOT = "factory/pasuruan/casting/press-1/$alarms/too_hot"


def alarmed_press(port: int) -> dict[str, Any]:
    """press-1 with `too_hot` on melt_temp (normal at 1000) and `low_power` on power_kw
    (4.2 kW: active from the first scan)."""
    entry = press_device("press-1", 1, port)
    melt, power = entry["signals"]
    melt["alarms"] = [{"name": "too_hot", "above": 1500, "clear_below": 1400, "severity": "high"}]
    power["alarms"] = [{"name": "low_power", "below": 5, "severity": "low"}]
    return entry


@pytest.fixture
def bank() -> RegisterBank:
    return press_bank()


@pytest.fixture
async def gw(
    tmp_path: Path, mosquitto: Mosquitto, bank: RegisterBank
) -> AsyncIterator[RunningGateway]:
    async with bank_server({1: bank}) as server:
        data = config_data(tmp_path, mosquitto.port, [alarmed_press(server.port)])
        async with running_gateway(tmp_path / "gateway.yaml", data) as running:
            yield running


async def alarms_when(gw: RunningGateway, condition: Any) -> dict[str, Any]:
    """GET /api/v1/alarms until `condition(body)` holds; the body."""

    async def check() -> dict[str, Any] | None:
        response = await gw.client.get("/api/v1/alarms")
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body if condition(body) else None

    found = await eventually_async(check)
    assert found is not None
    return found


async def test_active_alarms_come_first_by_severity_with_the_recent_history(
    gw: RunningGateway, bank: RegisterBank
) -> None:
    body = await alarms_when(gw, lambda b: b["active_count"] == 1)
    [low] = body["active"]
    assert (low["alarm"], low["state"], low["severity"], low["value"]) == (
        "low_power",
        "active",
        "low",
        4.2,
    )

    bank.set("holding", 0, [1600])
    body = await alarms_when(gw, lambda b: b["active_count"] == 2)
    assert [(a["alarm"], a["severity"]) for a in body["active"]] == [
        ("too_hot", "high"),
        ("low_power", "low"),
    ]
    too_hot = body["active"][0]
    assert too_hot == {
        "alarm": "too_hot",
        "device": "press-1",
        "signal": "melt_temp",
        "state": "active",
        "acknowledged": False,
        "acknowledged_by": None,
        "value": 1600,
        "severity": "high",
        "since": body["history"][0]["since"],
        "ts": too_hot["ts"],
        "message": None,
    }
    assert too_hot["since"] == body["history"][0]["ts"] <= too_hot["ts"]
    assert [(a["alarm"], a["state"]) for a in body["history"]] == [
        ("too_hot", "active"),
        ("low_power", "active"),
    ]

    bank.set("holding", 0, [1300])
    body = await alarms_when(gw, lambda b: b["active_count"] == 1)
    # Cleared but nobody acknowledged it: still listed, after the active ones.
    assert [(a["alarm"], a["state"]) for a in body["active"]] == [
        ("low_power", "active"),
        ("too_hot", "cleared"),
    ]
    assert body["history"][0]["state"] == "cleared"
    limited = (await gw.client.get("/api/v1/alarms", params={"history": 1})).json()
    assert len(limited["history"]) == 1
    bad = await gw.client.get("/api/v1/alarms", params={"history": -1})
    assert bad.status_code == 422


async def test_an_ack_needs_a_token_names_who_and_is_published(
    gw: RunningGateway, bank: RegisterBank, mosquitto: Mosquitto
) -> None:
    async with Subscriber(mosquitto, TOO_HOT) as sub:
        bank.set("holding", 0, [1600])
        await sub.wait_for(lambda: sub.on(TOO_HOT))
        url = "/api/v1/alarms/press-1/too_hot/ack"

        refused = await gw.client.post(url)
        assert refused.status_code == 401
        assert "token" in refused.json()["detail"]
        wrong = await gw.client.post(url, headers=gw.auth("not-the-token-0123456789abcdef"))
        assert wrong.status_code == 401
        body = await alarms_when(gw, lambda b: b["active_count"] >= 1)
        assert not any(a["acknowledged"] for a in body["active"]), "a refusal changed nothing"

        for unknown in ("/api/v1/alarms/press-1/nope/ack", "/api/v1/alarms/press-9/too_hot/ack"):
            missing = await gw.client.post(unknown, headers=gw.auth())
            assert missing.status_code == 404
            assert "no alarm" in missing.json()["detail"]

        acked = await gw.client.post(url, headers=gw.auth())
        assert acked.status_code == 200
        answer = acked.json()
        assert (answer["state"], answer["acknowledged"], answer["acknowledged_by"]) == (
            "active",
            True,
            "technician",
        )
        await sub.wait_for(lambda: len(sub.on(TOO_HOT)) == 2)
        published = sub.values(TOO_HOT)[1]
        assert published["acknowledged"] is True
        assert published["acknowledged_by"] == "technician"
        assert published["since"] == sub.values(TOO_HOT)[0]["since"]

        again = await gw.client.post(url, headers=gw.auth())
        assert again.status_code == 200
        assert again.json()["acknowledged_by"] == "technician"

        body = await alarms_when(gw, lambda b: True)
        too_hot = next(a for a in body["active"] if a["alarm"] == "too_hot")
        assert too_hot["acknowledged"] is True
        assert body["history"][0]["acknowledged_by"] == "technician"

        # Acknowledged and then cleared: done, no longer listed as needing attention.
        bank.set("holding", 0, [1300])
        await sub.wait_for(lambda: len(sub.on(TOO_HOT)) == 3)
        assert sub.values(TOO_HOT)[2]["state"] == "cleared", "the second ack published nothing"
        body = await alarms_when(gw, lambda b: b["active_count"] == 1)
        assert [a["alarm"] for a in body["active"]] == ["low_power"]


async def test_alarms_are_read_with_a_token_where_reads_need_one(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    async with bank_server({1: press_bank()}) as server:
        data = config_data(
            tmp_path, mosquitto.port, [alarmed_press(server.port)], read_requires_token=True
        )
        async with running_gateway(tmp_path / "gateway.yaml", data) as gw:
            assert (await gw.client.get("/api/v1/alarms")).status_code == 401
            assert (await gw.client.get("/api/v1/alarms", headers=gw.auth())).status_code == 200
