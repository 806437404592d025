"""POST /api/v1/devices/{id}/test: read every signal of a device once, outside the pipeline.

OPC UA devices are read in a session of their own (one batched Read of every node), so the
running device keeps its subscription undisturbed.

A throwaway `ModbusPoller` (its own pipeline with no sinks, its own status) reads through the
gateway's shared link for that host:port or serial port, so that its requests are serialized
with the running devices' as an RS-485 bus or a TCP-to-RTU converter requires; nothing is
published and no running device's status changes. The whole read is bounded in time.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from adapters.modbus.errors import ModbusError
from adapters.modbus.poller import ModbusPoller
from gateway.api.errors import ApiError
from gateway.api.schemas import DeviceTestOut, SampleOut
from gateway.config.models import ModbusRtuDevice, ModbusTcpDevice, OpcUaDevice
from gateway.model import Sample
from gateway.pipeline import Pipeline
from gateway.service import Gateway
from gateway.status import DeviceStatus

if TYPE_CHECKING:  # asyncua is imported only when an OPC UA device is tested or browsed
    from adapters.opcua.browse import BrowsedNode


async def probe_device(
    gateway: Gateway, device: ModbusTcpDevice | ModbusRtuDevice | OpcUaDevice
) -> DeviceTestOut:
    """Read every signal of `device` once; per-signal values or errors."""
    if isinstance(device, OpcUaDevice):
        return await _probe_opcua(gateway, device)
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
    return _result(device.id, samples, latency)


async def _probe_opcua(gateway: Gateway, device: OpcUaDevice) -> DeviceTestOut:
    """A session of its own (the running device keeps its subscription), one batched read."""
    from asyncua import ua

    from adapters.opcua.poller import OpcUaPoller
    from adapters.opcua.session import TrustError, trust_folder

    trust = trust_folder(gateway.config.buffer.path)
    poller = OpcUaPoller(device, Pipeline(), DeviceStatus(device.id, device.protocol), trust)
    budget = device.timeout * 4 + 2.0
    started = time.perf_counter()
    try:
        async with asyncio.timeout(budget):
            samples = await poller.read_once()
    except TimeoutError:
        error = f"device {device.id}: no complete answer within {budget:.1f} s"
        return DeviceTestOut(device=device.id, ok=False, error=error, signals={})
    except TrustError as exc:
        return DeviceTestOut(device=device.id, ok=False, error=str(exc), signals={})
    except (OSError, ConnectionError, ua.UaError) as exc:
        error = f"device {device.id}: {poller.describe(exc)}"
        return DeviceTestOut(device=device.id, ok=False, error=error, signals={})
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


async def browse_opcua(
    gateway: Gateway, device: OpcUaDevice, node: str, depth: int
) -> list[BrowsedNode]:
    """Browse the device's server in a session of its own; ApiError 400/502 when it cannot."""
    from asyncua import ua

    from adapters.opcua.browse import browse
    from adapters.opcua.nodeids import NodeIdError, parse_node_id
    from adapters.opcua.poller import OpcUaPoller
    from adapters.opcua.session import TrustError, open_session, trust_folder

    try:
        parse_node_id(node)
    except NodeIdError as exc:
        raise ApiError(400, str(exc)) from None
    try:
        async with asyncio.timeout(device.timeout * 4 + 20.0):
            session = await open_session(device, trust_folder(gateway.config.buffer.path))
            try:
                return await browse(session.client, node, depth)
            finally:
                await session.close()
    except NodeIdError as exc:
        raise ApiError(400, f"node {node}: {exc}") from None
    except TimeoutError:
        raise ApiError(502, f"device {device.id}: the server did not answer in time") from None
    except TrustError as exc:
        raise ApiError(502, str(exc)) from None
    except (OSError, ConnectionError, ua.UaError) as exc:
        poller = OpcUaPoller(device, Pipeline(), DeviceStatus(device.id, device.protocol))
        raise ApiError(502, f"device {device.id}: {poller.describe(exc)}") from None
