"""The running gateway: builds sinks, the pipeline and one task per device from a config, and
stops them in the order systemd expects.

Every task is named and owned here. A device task or a sink task that crashes on a bug is
logged and restarted with backoff, so one bad thing breaks one thing (SPEC "Guarantees").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.modbus.link import LinkRegistry
from adapters.modbus.poller import ModbusPoller
from gateway import __version__
from gateway.backoff import Backoff
from gateway.config.models import Config, ModbusRtuDevice, ModbusTcpDevice
from gateway.model import DeviceState
from gateway.pipeline import Pipeline
from gateway.sinks.base import Sink
from gateway.status import DeviceStatus

if TYPE_CHECKING:
    from adapters.opcua.poller import OpcUaPoller

log = logging.getLogger(__name__)

Device = ModbusTcpDevice | ModbusRtuDevice


@dataclass(slots=True)
class _RunningDevice:
    status: DeviceStatus
    task: asyncio.Task[None] | None = None
    poller: ModbusPoller | OpcUaPoller | None = None


def build_sinks(config: Config, version: str) -> list[Sink]:
    """The enabled sinks of `config`, each with its outbox under `buffer.path`, which they
    share equally."""
    enabled = [
        name for name, on in (("mqtt", config.mqtt), ("influxdb", config.influxdb)) if on.enabled
    ]
    share = config.buffer.max_size // max(1, len(enabled))
    sinks: list[Sink] = []
    if config.mqtt.enabled:
        from gateway.sinks.mqtt import MqttSink

        sinks.append(MqttSink.open(config.mqtt, config.gateway, version, config.buffer, share))
    if config.influxdb.enabled:
        from gateway.sinks.influx import InfluxSink

        measurements = {device.id: device.measurement for device in config.devices}
        sinks.append(
            InfluxSink.open(config.influxdb, config.gateway, measurements, config.buffer, share)
        )
    return sinks


class Gateway:
    """One gateway process's pipeline, sinks and devices."""

    def __init__(self, config: Config, version: str = __version__) -> None:
        self.config = config
        self.version = version
        self.started_at = time.time()
        self.sinks = build_sinks(config, version)
        self.pipeline = Pipeline(self.sinks)
        self.links = LinkRegistry()
        self.devices: dict[str, _RunningDevice] = {}
        self._sink_tasks: list[asyncio.Task[None]] = []
        self.running = False

    async def start(self) -> None:
        """Start every sink and every enabled device."""
        for sink in self.sinks:
            self._sink_tasks.append(
                asyncio.create_task(
                    _supervised(f"sink {sink.name}", sink.run), name=f"sink:{sink.name}"
                )
            )
        for device in self.config.devices:
            self._start_device(device)
        self.running = True
        log.info(
            "gateway %s %s running: %d devices, sinks: %s",
            self.config.gateway.id,
            self.version,
            len(self.devices),
            ", ".join(s.name for s in self.sinks) or "none",
        )

    def _start_device(self, device: Device | object) -> None:
        device_id: str = device.id  # type: ignore[attr-defined]
        status = DeviceStatus(device_id, device.protocol)  # type: ignore[attr-defined]
        running = _RunningDevice(status)
        self.devices[device_id] = running
        if not device.enabled:  # type: ignore[attr-defined]
            status.last_error = "disabled in the config"
            return
        self.pipeline.add_device(device_id, device.signals)  # type: ignore[attr-defined]
        if isinstance(device, ModbusTcpDevice | ModbusRtuDevice):
            link = self.links.acquire(device, device.timeout)
            running.poller = ModbusPoller(device, link, self.pipeline, status)
        else:
            from adapters.opcua.poller import OpcUaPoller  # asyncua only where it is needed

            trust = Path(self.config.buffer.path).parent / "opcua-trust"
            running.poller = OpcUaPoller(device, self.pipeline, status, trust)  # type: ignore[arg-type]
        running.task = asyncio.create_task(
            _supervised(f"device {device_id}", running.poller.run), name=f"device:{device_id}"
        )

    async def stop(self, deadline: float = 5.0) -> None:
        """Stop polling, mark devices offline, flush and close the sinks, within `deadline` s."""
        self.running = False
        await cancel_and_wait([d.task for d in self.devices.values() if d.task], deadline / 2)
        for running in self.devices.values():
            if running.poller is not None:
                running.poller.stopped()
        self.links.close_all()
        closers = [sink.close(deadline) for sink in self.sinks]
        if closers:
            try:
                async with asyncio.timeout(deadline):
                    await asyncio.gather(*closers, return_exceptions=True)
            except TimeoutError:
                log.warning("sinks did not finish closing within %.1f s", deadline)
        await cancel_and_wait(self._sink_tasks, deadline / 2)
        log.info("gateway %s stopped", self.config.gateway.id)

    def summary(self) -> str:
        """One line for systemd's STATUS= and the logs: devices online, sink backlog."""
        online = sum(1 for d in self.devices.values() if d.status.state is DeviceState.ONLINE)
        parts = [f"{online}/{len(self.devices)} devices online"]
        for sink in self.sinks:
            st = sink.status()
            parts.append(
                f"{st.name} {'connected' if st.connected else 'disconnected'}, backlog {st.backlog}"
            )
        return "; ".join(parts)


async def cancel_and_wait(tasks: list[asyncio.Task[None]], timeout: float) -> None:
    """Cancel `tasks` and wait for them, cancelling again any that swallowed the cancellation.

    Python 3.11's `asyncio.wait_for` (used inside pymodbus's connect) loses a cancellation that
    arrives as the awaited call fails; one `cancel()` is then not enough to stop a poller.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending = {task for task in tasks if not task.done()}
    while pending and loop.time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.1)
    for task in pending:
        log.warning("task %s did not stop within %.1f s", task.get_name(), timeout)


async def _supervised(what: str, run: Callable[[], Awaitable[None]]) -> None:
    """Run `run()` until cancelled, restarting it with backoff if it crashes on a bug."""
    backoff = Backoff(initial=1.0, maximum=30.0)
    while True:
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            delay = backoff.next_delay()
            log.exception("%s crashed; restarting in %.1f s", what, delay)
            await asyncio.sleep(delay)
