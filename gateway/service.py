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

from gateway import __version__
from gateway.adapter import Adapter, AdapterContext, Poller
from gateway.alarms.reports import PipelineAlarms
from gateway.backoff import Backoff
from gateway.board import DeviceBoard
from gateway.config.models import Config, Device
from gateway.model import Batch, DeviceState, Report, StateChange, now_ms
from gateway.oee.wiring import OeeLink
from gateway.pipeline import Pipeline
from gateway.protocols import Adapters
from gateway.sinks.base import Sink, SinkStatus
from gateway.status import DeviceStatus
from gateway.writes.record import WriteRecord
from gateway.writes.service import WriteService

if TYPE_CHECKING:
    from gateway.writes.commands import CommandListener

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _RunningDevice:
    status: DeviceStatus
    task: asyncio.Task[None] | None = None
    poller: Poller | None = None
    adapter: Adapter | None = None


def build_sinks(config: Config, version: str) -> list[Sink]:
    """The enabled sinks of `config`, each with its outbox under `buffer.path`, which they
    share equally."""
    return [build_sink(name, config, version) for name in sink_settings(config)]


def build_sink(name: str, config: Config, version: str) -> Sink:
    """The sink `name` ("mqtt" or "influxdb") of `config`."""
    share = config.buffer.max_size // max(1, len(sink_settings(config)))
    if name == "mqtt":
        from gateway.sinks.mqtt import MqttSink

        return MqttSink.open(config.mqtt, config.gateway, version, config.buffer, share)
    from gateway.sinks.influx import InfluxSink

    measurements = {device.id: device.measurement for device in config.devices}
    return InfluxSink.open(
        config.influxdb,
        config.gateway,
        measurements,
        config.buffer,
        share,
        unsigned=uint64_signals(config),
    )


def uint64_signals(config: Config) -> frozenset[tuple[str, str]]:
    """The (device, signal) pairs declared `uint64`: InfluxDB gets them as `influxdb.uint64`."""
    return frozenset(
        (device.id, signal.name)
        for device in config.devices
        for signal in device.signals
        if getattr(signal, "type", None) == "uint64"
    )


def sink_settings(config: Config) -> dict[str, object]:
    """Everything each enabled sink is built from, by sink name: a sink whose settings changed
    must be restarted to apply them."""
    enabled = [
        name for name, on in (("mqtt", config.mqtt), ("influxdb", config.influxdb)) if on.enabled
    ]
    common = (config.gateway.model_dump(exclude={"log_level"}), config.buffer.model_dump(), enabled)
    out: dict[str, object] = {}
    if config.mqtt.enabled:
        out["mqtt"] = (config.mqtt.model_dump(), common)
    if config.influxdb.enabled:
        measurements = {device.id: device.measurement for device in config.devices}
        unsigned = sorted(uint64_signals(config))
        out["influxdb"] = (config.influxdb.model_dump(), measurements, unsigned, common)
    return out


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What `Gateway.reconcile` restarted; everything else kept running untouched."""

    devices_added: list[str]
    devices_changed: list[str]
    devices_removed: list[str]
    sinks_restarted: list[str]


class _HeldSink:
    """Stands in for a sink while it restarts: keeps what the pipeline hands it, in order, and
    passes it on to the new sink, so that nothing is lost in between. It is a `Sink`, so that
    it can take the restarting sink's place in the pipeline's list."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.items: list[Batch | StateChange | Report] = []

    def submit(self, batch: Batch) -> None:
        self.items.append(batch)

    def state_changed(self, change: StateChange) -> None:
        self.items.append(change)

    def report(self, report: Report) -> None:
        self.items.append(report)

    async def run(self) -> None:
        """Nothing to deliver to: the items wait for `hand_over`. (Never started.)"""
        await asyncio.get_running_loop().create_future()

    async def close(self, deadline: float = 5.0) -> None:
        """Nothing to close: the items stay held for the new sink."""

    def status(self) -> SinkStatus:
        backlog = sum(len(item.samples) for item in self.items if isinstance(item, Batch))
        return SinkStatus(self.name, backlog=backlog)

    def hand_over(self, sink: Sink) -> None:
        for item in self.items:
            if isinstance(item, Batch):
                sink.submit(item)
            elif isinstance(item, Report):
                sink.report(item)
            else:
                sink.state_changed(item)
        self.items.clear()


class Gateway:
    """One gateway process's pipeline, sinks and devices."""

    def __init__(self, config: Config, version: str = __version__) -> None:
        self.config = config
        self.version = version
        self.started_at = time.time()
        self.sinks = build_sinks(config, version)
        self.board = DeviceBoard()
        """Every device's status, state and latest values: what the API reads."""
        self.pipeline = Pipeline(self.sinks, self.board)
        self.adapters = Adapters(AdapterContext(state_dir=Path(config.buffer.path).parent))
        self.oee = OeeLink(config, self.pipeline, Path(config.buffer.path).parent)
        """OEE per machine and shift (none without a site `oee:` block): `$oee` reports."""
        self.alarms = PipelineAlarms(config, Path(config.buffer.path).parent, self.pipeline.report)
        """Alarms (SPEC "Alarms"): see every scan, publish changes as Reports; the API acks."""
        self.pipeline.observers.append(self.alarms)
        self.devices: dict[str, _RunningDevice] = {}
        self.writes = WriteService(
            self, WriteRecord(Path(config.buffer.path).parent / "writes.jsonl")
        )
        """Writes to machines (HTTP and MQTT commands), each recorded."""
        self.commands: CommandListener | None = None
        self._sink_tasks: dict[str, asyncio.Task[None]] = {}
        self.running = False
        self.problems: dict[str, str] = {}
        """What does not run although the config asks for it (the HTTP API that could not
        listen, ...), by part: shown in systemd's STATUS= line."""

    async def start(self) -> None:
        """Start every sink and every enabled device."""
        for sink in self.sinks:
            self._start_sink(sink)
        for device in self.config.devices:
            self._start_device(device)
        if command_settings(self.config) is not None:
            self._start_commands()
        self.oee.start()
        self.running = True
        log.info(
            "gateway %s %s running: %d devices, sinks: %s",
            self.config.gateway.id,
            self.version,
            len(self.devices),
            ", ".join(s.name for s in self.sinks) or "none",
        )

    def _start_commands(self) -> None:
        """MQTT `$set` write commands (`mqtt.commands: true`), on a connection of their own."""
        from gateway.writes.commands import CommandListener

        self.commands = CommandListener(self.config, self.writes)
        self._sink_tasks["mqtt-commands"] = asyncio.create_task(
            _supervised("MQTT commands", self.commands.run), name="mqtt-commands"
        )

    async def _stop_commands(self, timeout: float) -> None:
        task = self._sink_tasks.pop("mqtt-commands", None)
        self.commands = None
        if task is not None:
            await cancel_and_wait([task], timeout)

    def _start_sink(self, sink: Sink) -> None:
        self._sink_tasks[sink.name] = asyncio.create_task(
            _supervised(f"sink {sink.name}", sink.run), name=f"sink:{sink.name}"
        )

    async def reconcile(self, new: Config, deadline: float = 5.0) -> Reconciled:
        """Apply `new` without a restart: only the devices and sinks whose config changed are
        restarted; an unchanged device keeps polling without a gap.

        A restarting sink's batches are held in memory and handed to its successor, so nothing
        is lost. `api` settings are read live by the API; nothing here restarts for them.
        """
        old = self.config
        before = {d.id: d.model_dump() for d in old.devices}
        after = {d.id: d for d in new.devices}
        removed = [i for i in before if i not in after]
        added = [i for i in after if i not in before]
        changed = [i for i in after if i in before and after[i].model_dump() != before[i]]
        old_sinks, new_sinks = sink_settings(old), sink_settings(new)
        restart = [n for n in {**old_sinks, **new_sinks} if old_sinks.get(n) != new_sinks.get(n)]

        for device_id in removed + changed:
            await self._stop_device(device_id, deadline / 2)
        self.config = new
        self.alarms.reconfigure(new)
        if new.gateway.log_level != old.gateway.log_level:
            logging.getLogger().setLevel(new.gateway.log_level.upper())
        for name in restart:
            await self._restart_sink(name, name in new_sinks, deadline)
        for device_id in added + changed:
            self._start_device(after[device_id])
        if command_settings(new) != command_settings(old):
            # `$set` commands follow the config like the sinks: off means no write by MQTT
            # from now on, and a new broker, credential or topic is used at once.
            await self._stop_commands(deadline / 2)
            if command_settings(new) is not None:
                self._start_commands()
            log.info("MQTT commands %s", "restarted" if self.commands else "off")
        self.oee.reconfigure(new)
        log.info(
            "config applied: devices added %s, changed %s, removed %s; sinks restarted %s",
            added or "none",
            changed or "none",
            removed or "none",
            restart or "none",
        )
        return Reconciled(added, changed, removed, restart)

    async def _stop_device(self, device_id: str, timeout: float) -> None:
        running = self.devices.pop(device_id)
        if running.task is not None:
            await cancel_and_wait([running.task], timeout)
        if running.poller is not None:
            running.poller.stopped()
            if running.adapter is not None:
                running.adapter.release(running.poller)
        self.pipeline.remove_device(device_id)
        self.board.remove(device_id)

    async def _restart_sink(self, name: str, enabled: bool, deadline: float) -> None:
        """Close sink `name` (if it runs) and open it again from `self.config` (if enabled)."""
        old = next((sink for sink in self.sinks if sink.name == name), None)
        held = _HeldSink(name)
        if old is not None:
            index = self.pipeline.sinks.index(old)
            self.pipeline.sinks[index] = held
            try:
                async with asyncio.timeout(deadline):
                    await old.close(deadline)
            except TimeoutError:
                log.warning("sink %s did not finish closing within %.1f s", name, deadline)
            task = self._sink_tasks.pop(name, None)
            if task is not None:
                await cancel_and_wait([task], deadline / 2)
            self.sinks.remove(old)
        else:
            self.pipeline.sinks.append(held)
        if not enabled:
            self.pipeline.sinks.remove(held)
            return
        try:
            sink = build_sink(name, self.config, self.version)
        except Exception as exc:
            self.pipeline.sinks.remove(held)  # never hold data without bound
            log.error(
                "sink %s could not be restarted (%s: %s); it is off until the config is fixed",
                name,
                type(exc).__name__,
                exc,
            )
            return
        held.hand_over(sink)
        self.pipeline.sinks[self.pipeline.sinks.index(held)] = sink
        self.sinks.append(sink)
        self._start_sink(sink)

    def _start_device(self, device: Device) -> None:
        status = self.board.add(device.id, device.protocol).status
        running = _RunningDevice(status)
        self.devices[device.id] = running
        if not device.enabled:
            status.last_error = "disabled in the config"
            return
        self.pipeline.add_device(device.id, device.signals)
        running.adapter = self.adapters.get(device.protocol)
        poller = running.poller = running.adapter.poller(device, self.pipeline, status)

        def crashed(reason: str) -> None:
            # A bug, not a device fault: say so where a technician looks (status, $state).
            status.last_error = f"device {device.id}: {reason}"
            status.state = DeviceState.ERROR
            self.pipeline.state_changed(
                StateChange(device.id, DeviceState.ERROR, now_ms(), status.last_error)
            )

        running.task = asyncio.create_task(
            _supervised(f"device {device.id}", poller.run, crashed), name=f"device:{device.id}"
        )

    async def stop(self, deadline: float = 5.0) -> None:
        """Stop polling, mark devices offline, flush and close the sinks, within `deadline` s."""
        self.running = False
        await cancel_and_wait([d.task for d in self.devices.values() if d.task], deadline / 2)
        for running in self.devices.values():
            if running.poller is not None:
                running.poller.stopped()
        await self.oee.stop()
        self.alarms.save()
        self.adapters.close()
        closers = [sink.close(deadline) for sink in self.sinks]
        if closers:
            try:
                async with asyncio.timeout(deadline):
                    await asyncio.gather(*closers, return_exceptions=True)
            except TimeoutError:
                log.warning("sinks did not finish closing within %.1f s", deadline)
        await cancel_and_wait(list(self._sink_tasks.values()), deadline / 2)
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
        parts += self.problems.values()
        return "; ".join(parts)


def command_settings(config: Config) -> object:
    """What the MQTT command listener is built from; None when commands are off."""
    if not (config.mqtt.enabled and config.mqtt.commands):
        return None
    return config.mqtt.model_dump(), config.gateway.model_dump()


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


async def _supervised(
    what: str,
    run: Callable[[], Awaitable[None]],
    crashed: Callable[[str], None] | None = None,
) -> None:
    """Run `run()` until cancelled, restarting it with backoff if it crashes on a bug.

    `crashed` is told the reason of each crash (for status), so a task in a restart loop is
    never shown as healthy.
    """
    backoff = Backoff(initial=1.0, maximum=30.0)
    while True:
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            delay = backoff.next_delay()
            log.exception("%s crashed; restarting in %.1f s", what, delay)
            if crashed is not None:
                crashed(f"internal error {type(exc).__name__}: {exc}; restarting in {delay:.1f} s")
            await asyncio.sleep(delay)
