"""Where a simulated machine's signals lie in an S7 or a MELSEC PLC's memory, and `sim config`.

The models declare their signals once, as a Modbus map (`simulators.core.spec`); a PLC frontend
serves the same register image at these addresses, so a trainee can read one machine over
Modbus, S7 or MC and compare. The layout is per unit (machine) of the model:

    Modbus             S7 (python-snap7 server)              MELSEC (our MC server)
    input  register a  DB<unit>.DBW<2a> (DBD for 32 bits)    D<1000 (unit-1) + a>
    holding register a DB<unit>.DBW<256 + 2a>                D<1000 (unit-1) + 500 + a>
    discrete input d   DB<unit>.DBX<512 + d//8>.<d%8>        M<1000 (unit-1) + d>
    coil c             DB<unit>.DBX<520 + c//8>.<c%8>        M<1000 (unit-1) + 500 + c>

32-bit values keep each family's own order whatever the Modbus word order: S7 big-endian
(the high word first, a REAL is a REAL), MELSEC low word first. Strings are served to MC as
words, two characters a word, the first in the low byte; S7 has no plain-ASCII type of that
shape (its STRING has two length bytes), so strings are left out of the S7 map. The frontends
are read-only for now: a write is accepted and overwritten by the next refresh.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from simulators.core.spec import Model, Signal, Unit
from simulators.export import device_id, write_limits

S7_HOLDING = 256
S7_DISCRETE = 512
S7_COILS = 520
DB_SIZE = 528
"""Bytes of each unit's DB: inputs 0-255, holding 256-511, discrete 512-519, coils 520-527."""
MC_UNIT = 1000
MC_HOLDING = 500
S7_BASE_PORT = 10200
MC_BASE_PORT = 5100


@dataclass(frozen=True, slots=True)
class PlcSignal:
    """One signal of one unit at its PLC address: what `sim config` prints and a frontend
    fills (`offset` is a DB byte for S7, a D or M number for MC)."""

    signal: Signal
    address: str
    offset: int
    bit: int | None = None


def default_port(model: Model, protocol: str) -> int:
    """The port `sim run --protocol s7|mc` listens on: 10200+ for S7 (102 needs root),
    5100+ for MC, offset as the model's Modbus port is from 5020."""
    base = S7_BASE_PORT if protocol == "s7" else MC_BASE_PORT
    return base + model.default_port - 5020


def s7_signals(unit: Unit) -> Iterator[PlcSignal]:
    """The S7 addresses of a unit's signals (strings left out)."""
    db = unit.unit_id
    for s in unit.machine.signals:
        if s.type == "string":
            continue
        if s.table in ("discrete", "coil"):
            base = S7_DISCRETE if s.table == "discrete" else S7_COILS
            byte, bit = base + s.address // 8, s.address % 8
            yield PlcSignal(s, f"DB{db}.DBX{byte}.{bit}", byte, bit)
            continue
        byte = 2 * s.address + (S7_HOLDING if s.table == "holding" else 0)
        letter = "W" if s.size == 1 else "D"
        yield PlcSignal(s, f"DB{db}.DB{letter}{byte}", byte)


def mc_signals(unit: Unit) -> Iterator[PlcSignal]:
    """The MELSEC addresses of a unit's signals."""
    base = MC_UNIT * (unit.unit_id - 1)
    for s in unit.machine.signals:
        number = base + s.address + (MC_HOLDING if s.table in ("holding", "coil") else 0)
        device = "M" if s.table in ("discrete", "coil") else "D"
        yield PlcSignal(s, f"{device}{number}", number)


def plc_signals(unit: Unit, protocol: str) -> Iterator[PlcSignal]:
    """`s7_signals` or `mc_signals`."""
    return s7_signals(unit) if protocol == "s7" else mc_signals(unit)


def _entry(p: PlcSignal) -> str:
    s = p.signal
    parts = [f"name: {s.name}", f"address: {p.address}"]
    if s.type != "bool":
        parts.append(f"type: {s.type}")
    if s.type == "string":
        parts.append(f"length: {s.length}")
    if s.scale != 1:
        parts.append(f"scale: {s.scale:g}")
    if s.unit:
        parts.append(f"unit: {json.dumps(s.unit)}")
    # Setpoints and commands as the Modbus entries have them: the frontend hands writes on.
    parts += [f"{key}: {str(value).lower()}" for key, value in write_limits(s).items()]
    return "{" + ", ".join(parts) + "}"


def plc_config(
    model: Model, protocol: str, host: str, port: int | None, prefix: str | None = None
) -> str:
    """The `devices:` entries (YAML) that read `gerbang sim run MODEL --protocol s7|mc`."""
    port = port or default_port(model, protocol)
    lines = [f"devices:  # gerbang sim run {model.name} --protocol {protocol}: {model.description}"]
    for unit in model.units:
        lines += [
            f"  - id: {device_id(model, unit, prefix)}",
            f"    protocol: {protocol}",
            f"    host: {host}",
            f"    port: {port}",
        ]
        if protocol == "s7":
            lines += ["    rack: 0", "    slot: 1"]
        lines += [f"    interval: {model.interval}", "    signals:"]
        lines += [f"      - {_entry(p)}" for p in plc_signals(unit, protocol)]
    return "\n".join(lines) + "\n"


_S7_TYPES = {
    "bool": "BOOL",
    "int16": "INT",
    "uint16": "UINT / WORD",
    "int32": "DINT",
    "uint32": "UDINT / DWORD",
    "float32": "REAL",
}


def describe_plc(model: Model) -> str:
    """The S7 and MELSEC address maps of `model` as Markdown (a part of `sim describe`)."""
    s7_port, mc_port = default_port(model, "s7"), default_port(model, "mc")
    out = [
        "## As a Siemens S7 or a Mitsubishi MELSEC PLC",
        "",
        f"`gerbang sim run {model.name} --protocol s7` serves the same machines as an S7 PLC "
        f"(python-snap7's server, ISO-on-TCP, default port {s7_port}, rack 0, slot 1): unit n in "
        f"data block DBn of {DB_SIZE} bytes, input register a at byte 2a, holding register a at "
        f"byte {S7_HOLDING} + 2a, discrete input d at bit {S7_DISCRETE}.0 + d, coil c at bit "
        f"{S7_COILS}.0 + c; 32-bit values big-endian (a REAL is a REAL, whatever the Modbus word "
        "order); strings are not served over S7. "
        f"`--protocol mc` serves them as a MELSEC CPU (MC protocol / SLMP, 3E binary frames, "
        f"default port {mc_port}): unit n from D{MC_UNIT}×(n−1), input register a at "
        f"D(base + a), holding register a at D(base + {MC_HOLDING} + a), discrete input d at "
        f"M(base + d), coil c at M(base + {MC_HOLDING} + c); 32-bit values low word first "
        "(MELSEC order); strings two characters a word, the first in the low byte. "
        f"`gerbang sim config {model.name} --protocol s7|mc` prints the gateway entries. "
        "Values written over S7 or MC are overwritten by the simulation at its next step "
        "(100 ms); the Modbus and OPC UA frontends take setpoints.",
        "",
    ]
    for unit in model.units:
        s7 = {p.signal.name: p.address for p in s7_signals(unit)}
        out += [
            f"### Unit {unit.unit_id}: {device_id(model, unit)}",
            "",
            "| signal | type | S7 address | S7 type | MELSEC address | MELSEC words |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for p in mc_signals(unit):
            s = p.signal
            words = "bit" if s.table in ("discrete", "coil") else str(s.size)
            if s.size == 2:
                words += " (low word first)"
            out.append(
                f"| `{s.name}` | {s.type} | {f'`{s7[s.name]}`' if s.name in s7 else '–'} | "
                f"{_S7_TYPES.get(s.type, '–') if s.name in s7 else '–'} | `{p.address}` | {words} |"
            )
        out.append("")
    return "\n".join(out)
