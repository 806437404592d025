"""Writing one Modbus signal: encode, write through the device's shared link, read back, compare.

The write and its read-back take one turn on the link, ahead of the scan reads waiting for it
(`turns.Turns`), so a write never waits behind a queue of polls and no poll sees the register
half written. The comparison is on the registers (or the coil) themselves, not on scaled
floats: what was put on the wire must be what the device holds. A device that acknowledges a
write and keeps its old value (a register the PLC program overwrites, a write-protected area)
is an error naming both values, never a silent success.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gateway.adapter import WriteOutcome, writable_signal
from gateway.config.models import ModbusDevice, ModbusSignal
from gateway.model import Sample, Value, now_ms

from .codec import compile_block
from .encode import plan_write, shown
from .errors import NoResponse, WriteMismatch
from .link import ModbusLink


def decode(signal: ModbusSignal, values: Sequence[int] | Sequence[bool]) -> Value:
    """The signal's value from its registers (or bit) as read back, as its reads show it."""
    out: list[Sample | None] = [None]
    block = compile_block(signal.table, signal.address, signal.size, [(0, signal)])
    block.decode(values, 0, out)
    sample = out[0]
    return shown(signal, sample.value) if sample is not None else None


async def write_signal(
    link: ModbusLink, device: ModbusDevice, name: str, value: Value
) -> WriteOutcome:
    """Write `value` to signal `name` of `device` on `link`, read it back and compare.

    Raises WriteRefused (nothing written), NoResponse/LinkDown, ExceptionResponse, or
    WriteMismatch.
    """
    signal = writable_signal(device.id, device.signals, name)
    plan = plan_write(signal, value, multiple=device.write_multiple)
    # Bounded as a whole: a read-modify-write is three requests, each under the link's timeout.
    budget = device.timeout * 3 + 1.0
    try:
        async with asyncio.timeout(budget):
            read = await link.write(plan, signal, device.unit)
    except TimeoutError:
        raise NoResponse(
            f"device {device.id}: no answer to the write of {name} within {budget:.1f} s"
        ) from None
    ts = now_ms()
    written = shown(signal, value) if isinstance(value, float) else value
    if plan.coil:
        matches = bool(read[0]) is plan.bit
    elif plan.read_modify_write:
        matches = decode(signal, read) is plan.bit
    else:
        matches = tuple(int(word) for word in read) == plan.registers
    read_back = decode(signal, read)
    if not matches:
        raise WriteMismatch(
            f"device {device.id}: wrote {written!r} to {name} ({signal.table} {signal.address}) "
            f"but read back {read_back!r}: the device did not take the value",
            written,
            read_back,
        )
    return WriteOutcome(written, read_back, ts)
