"""POST /api/v1/devices/{id}/test and GET .../browse: a device read or browsed once, outside the
pipeline, through the device's adapter (`gateway.adapter`).

Each adapter bounds the read in time and reads the way its protocol needs: Modbus through the
gateway's shared link for that host:port or serial port (so its requests are serialized with
the running devices' as an RS-485 bus requires), OPC UA in a session of its own (so the running
device keeps its subscription). Nothing is published and no running device's status changes.
Only our own errors are caught here (`AdapterError`): every adapter maps its library's.
"""

from __future__ import annotations

import time

from gateway.adapter import AdapterError, BadRequest, BrowsedNode, Browser
from gateway.api.errors import ApiError
from gateway.api.schemas import DeviceTestOut, SampleOut
from gateway.config.models import Device
from gateway.model import Sample
from gateway.service import Gateway


def _named(device_id: str, exc: AdapterError) -> str:
    """The error's message, naming the device once."""
    text = str(exc)
    return text if device_id in text else f"device {device_id}: {text}"


async def probe_device(gateway: Gateway, device: Device) -> DeviceTestOut:
    """Read every signal of `device` once; per-signal values or errors."""
    adapter = gateway.adapters.get(device.protocol)
    started = time.perf_counter()
    try:
        samples = await adapter.test_read(device)
    except AdapterError as exc:
        return DeviceTestOut(device=device.id, ok=False, error=_named(device.id, exc), signals={})
    return _result(device.id, samples, round((time.perf_counter() - started) * 1000.0, 2))


def _result(device_id: str, samples: list[Sample], latency: float) -> DeviceTestOut:
    return DeviceTestOut(
        device=device_id,
        ok=all(sample.error is None for sample in samples),
        latency_ms=latency,
        error=None,
        signals={
            s.signal: SampleOut(
                value=s.value, quality=s.quality.value, ts=s.ts, unit=s.unit, error=s.error
            )
            for s in samples
        },
    )


def can_browse(gateway: Gateway, device: Device) -> bool:
    """Whether the device's protocol can list its address space."""
    return isinstance(gateway.adapters.get(device.protocol), Browser)


async def browse_device(
    gateway: Gateway, device: Device, node: str, depth: int
) -> list[BrowsedNode]:
    """Browse the device's server; ApiError 400 (bad node) or 502 (the device) when it cannot."""
    adapter = gateway.adapters.get(device.protocol)
    if not isinstance(adapter, Browser):
        raise ApiError(400, f"device {device.id!r} speaks {device.protocol}: it cannot browse")
    try:
        return await adapter.browse(device, node, depth)
    except BadRequest as exc:
        raise ApiError(400, str(exc)) from None
    except AdapterError as exc:
        raise ApiError(502, _named(device.id, exc)) from None
