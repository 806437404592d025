"""The write service: one place that decides whether a write may go, carries it out, and says
exactly what happened (SPEC "Writing to machines").

HTTP and MQTT both come here, so both refuse the same things with the same words. The order:

1. the device and the signal (or method) exist: else `NotFound` (404);
2. the signal is `writable`, the value has the signal's kind and lies within `min`/`max`:
   else `Refused` (422), and nothing is sent to the device;
3. the device is polled (not disabled or stopped), and for MQTT commands online right now:
   else `Offline` (409), nothing sent: a command is never queued to be carried out later;
4. the adapter writes, reads back and compares, within a deadline: `Unreachable` (504) when
   the device does not answer, `Mismatch` (502) when the read-back differs, `Failed` (502)
   when the device refused (a Modbus exception, a Bad status);
5. every attempt, allowed or refused, goes into the write record before the answer.

    WriteError
     ├── NotFound     404
     ├── Refused      422   nothing written
     ├── Offline      409   nothing written
     ├── Unreachable  504   no answer: it may or may not have been written
     ├── Mismatch     502   written, read back differently
     └── Failed       502   the device refused the write
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.adapter import (
    AdapterError,
    DeviceUnreachable,
    MethodCaller,
    ReadBackMismatch,
    Writer,
    WriteRefused,
)
from gateway.board import DeviceBoard
from gateway.config.models import Config, Device, ModbusSignal, OpcUaDevice, SignalBase
from gateway.model import DeviceState, Value, now_ms

from .record import WriteEntry, WriteRecord

log = logging.getLogger(__name__)


class WriteError(Exception):
    """A write that did not happen as asked; `status` is its HTTP code, the message a sentence."""

    status = 500
    result = "failed"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.extra = extra


class NotFound(WriteError):
    status, result = 404, "refused"


class Refused(WriteError):
    status, result = 422, "refused"


class Offline(WriteError):
    status, result = 409, "refused"


class Unreachable(WriteError):
    status, result = 504, "unreachable"


class Mismatch(WriteError):
    status, result = 502, "mismatch"


class Failed(WriteError):
    status, result = 502, "failed"


@dataclass(frozen=True, slots=True)
class Written:
    """A write that read back as written."""

    value: Value
    read_back: Value
    ts: int


class GatewayView(Protocol):
    """What the service needs of the running gateway (`gateway.service.Gateway` is one)."""

    config: Config
    board: DeviceBoard
    adapters: Any
    """`gateway.protocols.Adapters`: `get(protocol)` gives the adapter."""


def check_limits(signal: SignalBase, value: object) -> None:
    """Refused unless `value` fits the signal's `min`/`max` and, for Modbus, its kind.

    The adapter checks what only it knows (its registers' type, the node's DataType).
    """
    if isinstance(signal, ModbusSignal):
        kind = signal.type
        if kind == "bool" and not isinstance(value, bool):
            raise Refused(f"{signal.name} is a bool: write true or false, not {value!r}")
        if kind == "string" and not isinstance(value, str):
            raise Refused(f"{signal.name} is a string: write text, not {value!r}")
        if kind not in ("bool", "string") and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            raise Refused(f"{signal.name} is a {kind}: write a number, not {value!r}")
    if value is None or isinstance(value, list | dict):
        raise Refused(f"{signal.name}: write a number, true/false or text, not {value!r}")
    if signal.min is None and signal.max is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Refused(f"{signal.name} takes a number between its limits, not {value!r}")
    if signal.min is not None and value < signal.min:
        raise Refused(f"{signal.name}: {value:g} is below its min {signal.min:g}")
    if signal.max is not None and value > signal.max:
        raise Refused(f"{signal.name}: {value:g} is above its max {signal.max:g}")


class WriteService:
    """Writes and method calls on the gateway's devices, each recorded (see the module doc)."""

    def __init__(self, gateway: GatewayView, record: WriteRecord) -> None:
        self.gateway = gateway
        self.record = record

    def _device(self, device_id: str) -> Device:
        device = self.gateway.config.device(device_id)
        if device is None:
            raise NotFound(f"no device {device_id!r} in the config")
        return device

    def _check_state(self, device: Device, require_online: bool) -> None:
        entry = self.gateway.board.get(device.id)
        if not device.enabled or entry is None:
            raise Offline(f"device {device.id} is disabled in the config: nothing was written")
        state = entry.status.state
        if require_online and state is not DeviceState.ONLINE:
            raise Offline(
                f"device {device.id} is {state.value}: the command was refused, not queued"
            )

    def _old(self, device_id: str, signal: str) -> Value:
        sample = self.gateway.board.latest(device_id).get(signal)
        return sample.value if sample is not None else None

    async def write(
        self,
        device_id: str,
        signal_name: str,
        value: Any,
        who: str,
        *,
        require_online: bool = False,
        command_id: str | None = None,
    ) -> Written:
        """Write `value` to a signal; Written, or a WriteError (recorded either way)."""
        old: Value = None
        try:
            device = self._device(device_id)
            signal = next((s for s in device.signals if s.name == signal_name), None)
            if signal is None:
                raise NotFound(f"device {device_id} has no signal {signal_name!r}")
            old = self._old(device_id, signal_name)
            if not signal.writable:
                raise Refused(
                    f"signal {signal_name} of device {device_id} is not writable "
                    "(its config says writable: false); nothing was written"
                )
            check_limits(signal, value)
            self._check_state(device, require_online)
            adapter = self.gateway.adapters.get(device.protocol)
            if not isinstance(adapter, Writer):
                raise Refused(f"protocol {device.protocol} cannot write yet; nothing was written")
            outcome = await self._bounded(device, adapter.write(device, signal_name, value))
        except WriteError as exc:
            await self._record(who, device_id, signal_name, value, old, exc, command_id)
            raise
        written = Written(outcome.value, outcome.read_back, outcome.ts)
        await self.record.add(
            WriteEntry(
                written.ts,
                who,
                device_id,
                signal_name,
                value,
                old,
                "ok",
                read_back=written.read_back,
                id=command_id,
            )
        )
        return written

    async def call(self, device_id: str, method: str, args: list[Any], who: str) -> list[Any]:
        """Call an OPC UA method listed under the device's `methods:`; its outputs."""
        what = f"method:{method}"
        try:
            device = self._device(device_id)
            if not isinstance(device, OpcUaDevice) or all(m.name != method for m in device.methods):
                raise NotFound(f"device {device_id} lists no method {method!r} under methods:")
            self._check_state(device, False)
            adapter = self.gateway.adapters.get(device.protocol)
            if not isinstance(adapter, MethodCaller):
                raise Refused(f"protocol {device.protocol} has no methods")
            outputs = await self._bounded(device, adapter.call(device, method, args))
        except WriteError as exc:
            await self._record(who, device_id, what, args, None, exc, None)
            raise
        await self.record.add(
            WriteEntry(now_ms(), who, device_id, what, args, None, "ok", read_back=outputs)
        )
        return list(outputs)

    async def refused(
        self,
        device_id: str,
        signal: str,
        value: Any,
        who: str,
        reason: str,
        command_id: str | None = None,
    ) -> None:
        """Record an attempt refused before it reached the service's checks (a malformed
        MQTT command)."""
        await self.record.add(
            WriteEntry(
                now_ms(),
                who,
                device_id,
                signal,
                value,
                None,
                "refused",
                error=reason,
                id=command_id,
            )
        )

    async def _bounded(self, device: Device, work: Any) -> Any:
        """Await the adapter's `work` under the device's deadline, its errors as WriteErrors."""
        budget = device.timeout * 4 + 2.0
        try:
            async with asyncio.timeout(budget):
                return await work
        except TimeoutError:
            raise Unreachable(
                f"device {device.id} did not answer within {budget:.1f} s; the value may or "
                "may not have been written"
            ) from None
        except WriteRefused as exc:
            raise Refused(f"{exc}; nothing was written") from exc
        except ReadBackMismatch as exc:
            raise Mismatch(str(exc), written=exc.written, read_back=exc.read_back) from exc
        except DeviceUnreachable as exc:
            raise Unreachable(f"{exc}; the value may or may not have been written") from exc
        except AdapterError as exc:
            raise Failed(str(exc)) from exc

    async def _record(
        self,
        who: str,
        device: str,
        signal: str,
        value: Any,
        old: Value,
        exc: WriteError,
        command_id: str | None,
    ) -> None:
        await self.record.add(
            WriteEntry(
                now_ms(),
                who,
                device,
                signal,
                value,
                old,
                exc.result,
                read_back=exc.extra.get("read_back"),
                error=str(exc),
                id=command_id,
            )
        )
