"""The core knows protocols only through `gateway.adapter` and the wiring table."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

from gateway.adapter import AdapterContext, AdapterError, Publisher
from gateway.model import GOOD, Batch, DeviceState, Sample, StateChange, now_ms
from gateway.pipeline import Pipeline
from gateway.protocols import ADAPTERS, Adapters, UnknownProtocol
from gateway.status import DeviceStatus
from tests.support.collect import CollectingSink


def test_the_core_imports_no_adapter() -> None:
    code = (
        "import sys, gateway.pipeline, gateway.service, gateway.api, gateway.api.app, "
        "gateway.api.server, gateway.config.loader\n"
        "print(sorted(m for m in sys.modules if m == 'adapters' or m.startswith('adapters.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_every_protocol_of_the_config_has_an_adapter() -> None:
    from typing import get_args

    from gateway.config.models import Device

    union = get_args(get_args(Device)[0])
    protocols = {get_args(cls.model_fields["protocol"].annotation)[0] for cls in union}
    assert protocols == set(ADAPTERS)


class ToyPoller:
    """Publishes one scan of a constant, then waits to be cancelled."""

    def __init__(self, device: Any, publisher: Publisher, status: DeviceStatus) -> None:
        self.device, self.publisher, self.status = device, publisher, status

    async def run(self) -> None:
        ts = now_ms()
        self.publisher.publish(Batch(self.device, ts, [Sample("answer", 42, GOOD, ts)]))
        self.publisher.state_changed(StateChange(self.device, DeviceState.ONLINE, ts))
        await asyncio.Event().wait()

    def stopped(self) -> None:
        self.publisher.state_changed(StateChange(self.device, DeviceState.OFFLINE, now_ms()))


class ToyAdapter:
    """A protocol in a few lines: what a new adapter package offers."""

    made = 0

    def __init__(self, context: AdapterContext) -> None:
        ToyAdapter.made += 1
        self.released: list[Any] = []

    def poller(self, device: Any, publisher: Publisher, status: DeviceStatus) -> ToyPoller:
        return ToyPoller(device, publisher, status)

    def release(self, poller: Any) -> None:
        self.released.append(poller)

    async def test_read(self, device: Any) -> list[Sample]:
        raise AdapterError(f"device {device}: toy devices cannot be test-read")

    def close(self) -> None:
        pass


async def test_a_new_protocol_is_one_line_in_the_table(tmp_path) -> None:
    table = {**ADAPTERS, "toy": f"{__name__}:ToyAdapter", "toy-2": f"{__name__}:ToyAdapter"}
    adapters = Adapters(AdapterContext(state_dir=tmp_path), table)
    ToyAdapter.made = 0
    adapter = adapters.get("toy")
    assert adapters.get("toy-2") is adapter and ToyAdapter.made == 1, "one instance per class"
    sink = CollectingSink()
    pipeline = Pipeline([sink])
    pipeline.board.add("t1", "toy")
    poller = adapter.poller("t1", pipeline, DeviceStatus("t1", "toy"))
    task = asyncio.create_task(poller.run())
    await sink.wait_for(lambda: sink.batches_of("t1"))
    assert pipeline.board.latest("t1")["answer"].value == 42
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    poller.stopped()
    assert sink.last_state("t1").state is DeviceState.OFFLINE


def test_an_unknown_protocol_is_named(tmp_path) -> None:
    adapters = Adapters(AdapterContext(state_dir=tmp_path))
    with pytest.raises(UnknownProtocol, match="profibus"):
        adapters.get("profibus")
