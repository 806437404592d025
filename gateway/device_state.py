"""A poller's word on its device's state: failures counted, logged once an outage, published
when they change.

Why a module: every poller (Modbus, the S7/MC block poller, OPC UA) did the same on a failed
scan, and wrote it three times: count it in the status, name the device in the message, log the
first failure of an outage at error and the rest at debug (`gateway.outage`), and publish the
`error` state again only when the state or its message changes (a dead device must not flood
MQTT with one `$state` a retry). The caller keeps its own logger, so a line still names the
protocol's module.
"""

from __future__ import annotations

import logging

from gateway.adapter import Publisher
from gateway.model import DeviceState, StateChange, now_ms
from gateway.outage import Outage
from gateway.status import DeviceStatus


class DeviceStateReport:
    """One device's state as its poller reports it: `failed`, `set`, `stopped`; `outage` says
    whether it is down, since when (`Outage.recovered` gives the recovery's length)."""

    def __init__(
        self, device_id: str, status: DeviceStatus, publisher: Publisher, log: logging.Logger
    ) -> None:
        self.device_id = device_id
        self.status = status
        self.publisher = publisher
        self.log = log
        self.outage = Outage()
        self._published_error: str | None = None

    def failed(self, error: str) -> None:
        """A scan or a connection failed with `error`: counted, logged, published if new."""
        status = self.status
        status.polls_failed += 1
        message = error if self.device_id in error else f"device {self.device_id}: {error}"
        status.last_error = message
        if self.outage.failed(message):
            self.log.error("%s; retrying with backoff", message)
        else:
            self.log.debug("%s (still failing)", message)
        if status.state is not DeviceState.ERROR or self._published_error != message:
            self.set(DeviceState.ERROR, message)

    def set(self, state: DeviceState, error: str | None = None) -> None:
        """The device is now in `state` (with `error` for `error`): status and publisher."""
        self.status.state = state
        self._published_error = error
        self.publisher.state_changed(StateChange(self.device_id, state, now_ms(), error))

    def stopped(self) -> None:
        """The device is offline: removed from the config, or the gateway is stopping."""
        self.set(DeviceState.OFFLINE)
