"""Writing one S7 signal: check, encode, write through the PLC's shared link, read back, compare.

The value is checked first (`adapters.plcwrite`: nothing is sent for a value the address cannot
hold exactly), encoded by the pure codec (`codec.encode_value`, big-endian, a STRING with its
two length bytes), written and read back in one turn of the link, so no poll comes between.
The comparison is on the bytes themselves (for a bool, its bit), not on scaled floats: what was
put on the wire must be what the PLC holds. A PLC that acknowledges and keeps its old value (a
DB the program overwrites every cycle) is an error naming both values, never a silent success.
"""

from __future__ import annotations

import asyncio

from adapters.plcwrite import check_value, shown
from gateway.adapter import WriteOutcome, writable_signal
from gateway.config.models import S7Device
from gateway.model import Sample, Value, now_ms

from .address import locate
from .codec import BlockDecoder, S7Field, encode_value
from .errors import NoResponse, WriteMismatch
from .link import S7Link


async def write_signal(link: S7Link, device: S7Device, name: str, value: Value) -> WriteOutcome:
    """Write `value` to signal `name` of `device` on `link`, read it back and compare.

    Raises WriteRefused (nothing written), NoResponse/LinkDown, ItemRefused, or WriteMismatch.
    """
    signal = writable_signal(device.id, device.signals, name)
    loc = locate(signal.address, signal.type, signal.length)
    what = f"signal {name} ({signal.address}) of device {device.id}"
    check_value(
        what, loc.type, value, signal.scale, signal.offset, chars=loc.length or 0,
        encoding="latin-1",
    )  # fmt: skip
    field = S7Field(name, loc, signal.scale, signal.offset, signal.unit, signal.decimals)
    data = encode_value(field, value)
    area, db = loc.key
    bit = loc.address.bit if loc.type == "bool" else None
    budget = device.timeout * 4 + 1.0  # a bit: read, write, read back (and a connect)
    try:
        async with asyncio.timeout(budget):
            back = await link.write(area, db, loc.start, data, signal.address, bit)
    except TimeoutError:
        raise NoResponse(
            f"device {device.id}: no answer to the write of {name} within {budget:.1f} s"
        ) from None
    ts = now_ms()
    out: list[Sample | None] = [None]
    BlockDecoder(loc.start, len(back), [(0, field)]).decode(back, ts, out)
    sample = out[0]
    read_back = shown(loc.type, signal.scale, signal.offset, sample.value if sample else None)
    written = shown(loc.type, signal.scale, signal.offset, value)
    if bit is not None:
        matches = bool(back[0] >> bit & 1) is value
    elif loc.type == "string":
        matches = read_back == value
    else:
        matches = back == data
    if not matches:
        raise WriteMismatch(
            f"device {device.id}: wrote {written!r} to {name} ({signal.address}) but read back "
            f"{read_back!r}: the PLC did not take the value",
            written,
            read_back,
        )
    return WriteOutcome(written, read_back, ts)
