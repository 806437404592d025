"""The gateway's OEE against the simulator's own truth: a tofu grinder at `--speed 60`.

The grinder runs in this process on a real Modbus TCP port, read every 100 ms by the Gateway
with the very `oee:` block `gerbang sim config tofu --oee --speed 60` prints. The test breaks
it (a jam: it trips to fault), repairs it, lets it grind on, then freezes its clock, and
compares: availability over the same stretch of time within two percentage points, and the part
counts exactly. A minute of the machine passes each second, so a 25-minute run takes 25 s.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from gateway.config.models import Config
from gateway.service import Gateway
from simulators.core.machine import Phase
from simulators.engine import Simulation
from simulators.export import Endpoint, device_entries
from simulators.frontends.modbus_server import ModbusFrontend
from simulators.models import get_model
from simulators.oee import truth
from tests.support.modbus_server import free_port
from tests.support.mosquitto import Mosquitto
from tests.support.oee import site_oee
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

SPEED = 60.0
DEVICE = "tofu-grinder"
GRINDER = 2


class FreezableClock:
    """Simulated time = real time × speed, until `freeze` stops it where it is."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._t0 = time.monotonic()
        self._frozen: float | None = None

    def now(self) -> float:
        if self._frozen is not None:
            return self._frozen
        return (time.monotonic() - self._t0) * self.speed

    def freeze(self) -> None:
        self._frozen = self.now()


def snapshot(gateway: Gateway, sim: Simulation) -> tuple[dict[str, Any], dict[str, Any]]:
    """The gateway's figures and the simulator's truth at one instant (no await between)."""
    gateway.oee.flush()  # the engines advanced to now
    assert gateway.oee.service is not None
    figures = gateway.oee.service.figures(DEVICE)["current"]
    return figures, truth(sim)["devices"][DEVICE]


def availability(a: dict[str, Any], b: dict[str, Any]) -> float:
    return (b["run_s"] - a["run_s"]) / (b["planned_s"] - a["planned_s"])


async def test_gateway_oee_matches_the_simulators_truth(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    model = get_model("tofu")
    clock = FreezableClock(SPEED)
    sim = Simulation(model, clock, seed=7)
    frontend = ModbusFrontend(sim)
    port = free_port()
    await frontend.start_tcp("127.0.0.1", port)
    [entry] = [
        e
        for e in device_entries(model, Endpoint("modbus-tcp", "127.0.0.1", port), oee_speed=SPEED)
        if e["id"] == DEVICE
    ]
    entry["interval"] = "100ms"
    config = Config.model_validate(
        {
            "version": 1,
            "gateway": {"id": "oee-truth", "site": "training", "area": "tofu"},
            "mqtt": {"port": mosquitto.port},
            "buffer": {"path": str(tmp_path / "buffer")},
            "oee": site_oee(),
            "devices": [entry],
        }
    )
    grinder = sim.units[GRINDER]
    gateway = Gateway(config)
    try:
        await gateway.start()
        assert gateway.oee.service is not None

        def phase() -> Phase:
            return Phase(grinder.state.cycle.phase)

        def gateway_figures() -> dict[str, Any] | None:
            assert gateway.oee.service is not None
            return gateway.oee.service.figures(DEVICE)["current"]

        # Grinding: the gateway sees the machine run before the first batch is done (8 s).
        await eventually(lambda: (f := gateway_figures()) and f["run_s"] >= 0.5, 15)
        g0, t0 = snapshot(gateway, sim)
        assert t0["total"] == 0, "the gateway's count starts with the machine's"
        await eventually(lambda: truth(sim)["devices"][DEVICE]["total"] >= 1, 20)
        # Break it: a jam trips the grinder after 5 s (of its time); repair it after 3 min.
        await eventually(lambda: phase() is Phase.RUNNING, 10)
        sim.inject("jam", GRINDER)
        await eventually(lambda: phase() is Phase.FAULT, 5)
        jammed_at = sim.t
        await eventually(lambda: sim.t >= jammed_at + 180, 10)
        sim.clear("jam", GRINDER)
        await eventually(lambda: phase() is Phase.RUNNING, 15)
        made = truth(sim)["devices"][DEVICE]["total"]
        await eventually(lambda: truth(sim)["devices"][DEVICE]["total"] > made, 20)
        clock.freeze()
        g1, t1 = snapshot(gateway, sim)

        # The same stretch of time, seen by the gateway (real s) and by the machine (its s).
        real_s = (g1["planned_s"] + g1["planned_stop_s"]) - (g0["planned_s"] + g0["planned_stop_s"])
        assert real_s * SPEED == pytest.approx(
            t1["planned_s"] + t1["planned_stop_s"] - t0["planned_s"] - t0["planned_stop_s"],
            rel=0.02,
        )
        assert t1["downtime_s"] - t0["downtime_s"] >= 180, "the jam was a loss"
        true_availability = availability(t0, t1)
        assert true_availability < 0.95
        # Each change of state reaches the gateway up to one scan late: at 60x, a 100 ms scan
        # is 6 s of the machine's time, and on a loaded box a scan can be late by as much
        # again. Four changes over ~1,500 s planned: within 2 points. (Counting the jam as
        # running would be 12 points off.)
        assert availability(g0, g1) == pytest.approx(true_availability, abs=0.02), (g1, t1)
        assert g1["stops"] >= 1

        # The counts: once the gateway has read the frozen counters, exactly the machine's.
        def counted() -> bool:
            now = gateway_figures()
            return bool(now and (now["total"], now["good"]) == (t1["total"], t1["good"]))

        await eventually(counted, 5)
        final = gateway_figures()
        assert final is not None and final["quality"] == pytest.approx(t1["quality"], abs=1e-3)
    finally:
        await gateway.stop(2.0)
        await frontend.stop()
