"""POST /api/v1/devices/{id}/test: read every signal of a device once, outside the pipeline.

A throwaway `ModbusPoller` (its own pipeline with no sinks, its own status) reads through the
gateway's shared link for that host:port or serial port, so that its requests are serialized
with the running devices' as an RS-485 bus or a TCP-to-RTU converter requires; nothing is
published and no running device's status changes. The whole read is bounded in time.
"""

from __future__ import annotations

import asyncio
import time

from adapters.modbus.errors import ModbusError
from adapters.modbus.poller import ModbusPoller
from gateway.api.schemas import DeviceTestOut, SampleOut
from gateway.config.models import ModbusRtuDevice, ModbusTcpDevice, OpcUaDevice
from gateway.pipeline import Pipeline
from gateway.service import Gateway
from gateway.status import DeviceStatus


async def probe_device(
    gateway: Gateway, device: ModbusTcpDevice | ModbusRtuDevice | OpcUaDevice
) -> DeviceTestOut:
    """Read every signal of `device` once; per-signal values or errors."""
    if not isinstance(device, ModbusTcpDevice | ModbusRtuDevice):
        return DeviceTestOut(
            device=device.id,
            ok=False,
            error=f"testing {device.protocol} devices over the API is not supported yet",
            signals={},
        )
    link = gateway.links.acquire(device, device.timeout)
    status = DeviceStatus(device.id, device.protocol)
    try:
        poller = ModbusPoller(device, link, Pipeline(), status)
        budget = device.timeout * (status.requests_per_scan + 1) + 1.0
        started = time.perf_counter()
        try:
            async with asyncio.timeout(budget):
                samples = await poller.scan()
        except ModbusError as exc:
            error = str(exc) if device.id in str(exc) else f"device {device.id}: {exc}"
            return DeviceTestOut(device=device.id, ok=False, error=error, signals={})
        except TimeoutError:
            return DeviceTestOut(
                device=device.id,
                ok=False,
                error=f"device {device.id}: no complete answer within {budget:.1f} s",
                signals={},
            )
        latency = round((time.perf_counter() - started) * 1000.0, 2)
    finally:
        gateway.links.release(link)
    return DeviceTestOut(
        device=device.id,
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
