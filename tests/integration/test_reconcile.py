"""`Gateway.reconcile` with a real mosquitto: a sink restarted by a config change loses nothing
that the pipeline hands it while it closes and reopens."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.config.models import Config
from gateway.model import GOOD, Batch, Sample, now_ms
from gateway.service import Gateway
from tests.support.mosquitto import Mosquitto, Subscriber

pytestmark = pytest.mark.integration


def config(tmp_path: Path, broker: Mosquitto, keepalive: str) -> Config:
    return Config.model_validate(
        {
            "version": 1,
            "gateway": {"id": "rec", "site": "s"},
            "mqtt": {"port": broker.port, "retain": False, "keepalive": keepalive},
            "buffer": {"path": str(tmp_path / "buffer")},
        }
    )


async def test_batches_published_while_a_sink_restarts_all_arrive(
    tmp_path: Path, mosquitto: Mosquitto, subscriber: Subscriber
) -> None:
    gateway = Gateway(config(tmp_path, mosquitto, "30s"))
    await gateway.start()
    try:
        topic = "factory/s/press/count"
        gateway.pipeline.publish(Batch("press", now_ms(), [Sample("count", 0, GOOD, now_ms())]))
        await subscriber.wait_for(lambda: subscriber.values(topic), 10)

        task = asyncio.create_task(gateway.reconcile(config(tmp_path, mosquitto, "20s")))
        async with asyncio.timeout(5):
            # Step the loop one callback at a time: the restart's window is only a few steps.
            while not any(type(s).__name__ == "_HeldSink" for s in gateway.pipeline.sinks):  # noqa: ASYNC110
                await asyncio.sleep(0)
        for n in range(1, 21):  # while the old sink closes
            gateway.pipeline.publish(Batch("press", now_ms(), [Sample("count", n, GOOD, n)]))
        result = await task
        assert result.sinks_restarted == ["mqtt"]
        gateway.pipeline.publish(Batch("press", now_ms(), [Sample("count", 21, GOOD, 21)]))

        await subscriber.wait_for(lambda: 21 in [v["value"] for v in subscriber.values(topic)])
        values = [v["value"] for v in subscriber.values(topic)]
        assert sorted(set(values)) == list(range(22)), values
        assert [v for v in values if v] == sorted(v for v in values if v), "in order"
    finally:
        await gateway.stop(2.0)
