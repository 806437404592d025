"""Writing one MC signal: check, encode, write through the PLC's shared link, read back, compare.

The value is checked first (`adapters.plcwrite`: nothing is sent for a value the device cannot
hold exactly), encoded by the pure codec (`codec.encode_value`: words low word first, a string
two characters a word, the first in the low byte), then written and read back in one turn of
the link (`McLink.write`: bit units for a bit device's bool, word units otherwise). The
comparison is on the words (or the bit) themselves: a PLC that acknowledges and keeps its old
value (a D register the ladder program overwrites every scan) is an error naming both values.
"""

from __future__ import annotations

import asyncio
import struct

from adapters.plcwrite import check_value, shown
from gateway.adapter import WriteOutcome, writable_signal
from gateway.config.models import McDevice
from gateway.model import Sample, Value, now_ms

from .address import locate
from .codec import BlockDecoder, McField, encode_value
from .errors import NoResponse, WriteMismatch
from .frame import Route
from .link import McLink


async def write_signal(link: McLink, device: McDevice, name: str, value: Value) -> WriteOutcome:
    """Write `value` to signal `name` of `device` on `link`, read it back and compare.

    Raises WriteRefused (nothing written), NoResponse/LinkDown, EndCodeError, or WriteMismatch.
    """
    signal = writable_signal(device.id, device.signals, name)
    loc = locate(signal.address, signal.type, signal.length)
    what = f"signal {name} ({signal.address}) of device {device.id}"
    check_value(what, loc.type, value, signal.scale, signal.offset, chars=2 * loc.words)
    field = McField(name, loc, signal.scale, signal.offset, signal.unit, signal.decimals)
    words = encode_value(field, value)
    if loc.type == "bool":
        words = [1 if value else 0] if loc.address.is_bit_device else words
    route = Route(device.network, device.station, device.module_io, device.multidrop)
    budget = device.timeout * 4 + 1.0  # a bit of a word: read, write, read back (and a connect)
    try:
        async with asyncio.timeout(budget):
            back = await link.write(loc.address, words, route, signal.address)
    except TimeoutError:
        raise NoResponse(
            f"device {device.id}: no answer to the write of {name} within {budget:.1f} s"
        ) from None
    ts = now_ms()
    if isinstance(back, bool):
        read_back: Value = back
        matches = back is value
    else:
        out: list[Sample | None] = [None]
        # Decoded as the poller decodes it: a word block from the signal's own word.
        BlockDecoder(loc.word, len(back), [(0, field)]).decode(
            struct.pack(f"<{len(back)}H", *back), ts, out
        )
        sample = out[0]
        read_back = shown(loc.type, signal.scale, signal.offset, sample.value if sample else None)
        if loc.address.bit is not None:
            matches = bool(back[0] >> loc.address.bit & 1) is value
        else:
            matches = back == words
    written = shown(loc.type, signal.scale, signal.offset, value)
    if not matches:
        raise WriteMismatch(
            f"device {device.id}: wrote {written!r} to {name} ({signal.address}) but read back "
            f"{read_back!r}: the PLC did not take the value",
            written,
            read_back,
        )
    return WriteOutcome(written, read_back, ts)
