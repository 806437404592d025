"""`AlarmService`: the alarm engine with its state file, its history and its subscribers.

Why: the engine is pure; something must load the state at start, save it when an alarm
changes, keep the recent history for the API and hand each event to whoever publishes it.

Wiring (done by the gateway service, not here):

    alarms = AlarmService(config, state_dir="/var/lib/gerbang", clock=now_ms)
    alarms.on_event.append(mqtt_sink.alarm_changed)    # retained $alarms/{alarm}
    alarms.on_event.append(influx_sink.alarm_changed)  # measurement "alarms"
    # in Pipeline.publish(batch), before the deadband filter (alarms see every scan):
    alarms.observe(batch)
    # in Pipeline.state_changed(change):
    alarms.device_state(change)
    # on a config change (PUT /api/v1/config, /devices/{id}), once it is applied:
    alarms.reconfigure(new_config)
    # HTTP API: GET /api/v1/alarms -> alarms.active(), alarms.history(100)
    #           POST /api/v1/alarms/{device}/{alarm}/ack -> alarms.ack(device, alarm, token.name)
    #           (UnknownAlarm -> 404)

Every method is synchronous and quick, as the `Publisher` interface requires: `observe` costs
O(alarm rules of the device) per scan and does no I/O unless an alarm changed; then it writes
the small state file (one fsync) and calls the subscribers in order. Subscribers must not block
(a sink only queues the event); one that raises is logged and the others still get the event.
Call everything from one thread (the event loop).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from pathlib import Path

from gateway.config.models import Config
from gateway.model import Batch, StateChange, now_ms

from .engine import AlarmEngine, Clock, UnknownAlarm
from .events import AlarmEvent
from .store import AlarmStateFile

__all__ = ["AlarmEvent", "AlarmService", "UnknownAlarm"]

log = logging.getLogger(__name__)

HISTORY_SIZE = 1000
"""Recent events kept in memory for `GET /api/v1/alarms` (not on disk: the SD card)."""

_SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}

Subscriber = Callable[[AlarmEvent], None]


class AlarmService:
    """Alarms of a running gateway: feed it scans and device states, read and ack alarms."""

    def __init__(
        self,
        config: Config,
        state_dir: str | Path,
        clock: Clock = now_ms,
        history_size: int = HISTORY_SIZE,
    ) -> None:
        self._clock = clock
        self._file = AlarmStateFile(state_dir)
        self._engine = AlarmEngine(config.devices, clock)
        restored = self._engine.restore(self._file.load())
        if restored:
            log.info("alarms: %d restored from %s", restored, self._file.path)
        self._history: deque[AlarmEvent] = deque(maxlen=history_size)
        self.on_event: list[Subscriber] = []
        """Called with every event, in order, after it is saved; each must not block."""

    @property
    def state_file(self) -> Path:
        """Where the alarm state is kept."""
        return self._file.path

    @property
    def state_writes(self) -> int:
        """State files written since start: each is wear on the SD card."""
        return self._file.writes

    def observe(self, batch: Batch) -> list[AlarmEvent]:
        """Evaluate one device scan; the events it caused (already delivered)."""
        events = self._engine.evaluate(batch)
        if events:
            self._deliver(events)
        return events

    def device_state(self, change: StateChange) -> list[AlarmEvent]:
        """A device's new connection state: `offline` rises on error and clears when online."""
        events = self._engine.device_state(change)
        if events:
            self._deliver(events)
        return events

    def ack(self, device: str, alarm: str, who: str) -> AlarmEvent:
        """Acknowledge an alarm as `who` (a token name); its present state.

        Acknowledging what needs no acknowledgement (already acknowledged, never raised)
        changes nothing and sends no event. Raises UnknownAlarm.
        """
        event, changed = self._engine.ack(device, alarm, who)
        if changed:
            log.info("alarm %s on %s acknowledged by %s", alarm, device, who)
            self._deliver([event])
        return event

    def active(self) -> list[AlarmEvent]:
        """Alarms that need attention: active ones first, then cleared ones nobody acknowledged;
        each group by severity (high first), then newest first."""
        return sorted(
            self._engine.outstanding(),
            key=lambda e: (e.state != "active", _SEVERITY_RANK[e.severity], -(e.since or 0)),
        )

    def history(self, limit: int = 100) -> list[AlarmEvent]:
        """The latest `limit` events, newest first (since start; at most `history_size`)."""
        if limit <= 0:
            return []
        newest = list(self._history)[-limit:]
        newest.reverse()
        return newest

    def reconfigure(self, config: Config) -> list[tuple[str, str]]:
        """Take a new config: alarms that stay keep their state, removed ones are forgotten.

        A kept alarm whose limits changed is judged with its new limits at the next scan.
        Returns the (device, alarm) pairs that are gone (a device removed takes its `offline`).
        """
        engine = AlarmEngine(config.devices, self._clock)
        engine.restore(self._engine.snapshot())
        before = {(a.device, a.name) for a in self._engine.alarms()}
        after = {(a.device, a.name) for a in engine.alarms()}
        self._engine = engine
        self._file.save(engine.snapshot())
        return sorted(before - after)

    def save(self) -> bool:
        """Write the state file if it differs from what is on disk (a no-op when every change
        was saved as it happened); False when the write failed."""
        return self._file.save(self._engine.snapshot())

    def _deliver(self, events: list[AlarmEvent]) -> None:
        self._file.save(self._engine.snapshot())
        self._history.extend(events)
        for event in events:
            log.info(
                "alarm %s on %s: %s%s (value %r, severity %s)",
                event.alarm,
                event.device,
                event.state,
                ", acknowledged" if event.acknowledged else "",
                event.value,
                event.severity,
            )
            for subscriber in self.on_event:
                try:
                    subscriber(event)
                except Exception:
                    log.exception("alarm subscriber %r failed on %s", subscriber, event.alarm)
