"""What a model's declaration says to people and to the gateway: `sim config` and `sim describe`.

`sim_config` prints the `devices:` entries that make the gateway read a running simulator, as
YAML the gateway's validator accepts as is (with `oee`, each machine's `oee:` block and a site
calendar too, `simulators.oee`); `describe` prints the register map as Markdown.
Both read the same `Signal` declarations the simulator serves from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulators.core.faults import FAULT_COIL_BASE, GENERIC_FAULTS, fault_names
from simulators.core.spec import Model, Signal, Unit
from simulators.oee import device_oee, site_oee

DEFAULT_BAUDRATE = 19200
_FIRST = {"coil": 1, "discrete": 10001, "input": 30001, "holding": 40001}
"""Offsets of the traditional 1-based register numbers (holding register 0 = 40001)."""


@dataclass(frozen=True)
class Endpoint:
    """Where a simulator listens, as the gateway must be told."""

    protocol: str = "modbus-tcp"
    host: str = "127.0.0.1"
    port: int | None = None
    serial_port: str | None = None
    baudrate: int = DEFAULT_BAUDRATE


def device_id(model: Model, unit: Unit, prefix: str | None = None) -> str:
    """The gateway device id of one unit: `<prefix or model>-<unit name>`."""
    base = prefix or model.name
    return base if len(model.units) == 1 and prefix else f"{base}-{unit.name}"


def signal_entry(s: Signal, alarms: Sequence[Mapping[str, object]] = ()) -> dict[str, object]:
    """The gateway signal mapping of `s` (only what differs from the gateway's defaults), with
    the `alarms` the machine suggests for it."""
    entry: dict[str, object] = {"name": s.name, "table": s.table, "address": s.address}
    if s.table in ("holding", "input"):
        entry["type"] = s.type
    if s.type == "string":
        entry["length"] = s.length
    if s.word_order != "big":
        entry["word_order"] = s.word_order
    if s.scale != 1:
        entry["scale"] = s.scale
    if s.unit:
        entry["unit"] = s.unit
    entry |= write_limits(s)
    if alarms:
        entry["alarms"] = [dict(rule) for rule in alarms]
    return entry


def write_limits(s: Signal) -> dict[str, object]:
    """`writable: true` and the accepted range of a setpoint or command, else nothing.

    The range is the one the simulator itself enforces (exception 03, BadOutOfRange), so the
    gateway refuses with a clear 422 what the machine would refuse anyway.
    """
    if not s.writable:
        return {}
    if s.type == "bool":
        return {"writable": True}
    return {"writable": True, "min": _number(s.lo), "max": _number(s.hi)}


def _number(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


def device_entries(
    model: Model, endpoint: Endpoint, prefix: str | None = None, *, oee_speed: float | None = None
) -> list[dict[str, Any]]:
    """The gateway `devices:` entries (plain data) for every unit of `model`; with `oee_speed`
    (the simulator's `--speed`), each machine that counts parts gets its `oee:` block."""
    out: list[dict[str, Any]] = []
    for unit in model.units:
        entry: dict[str, object] = {"id": device_id(model, unit, prefix)}
        oee = device_oee(unit.machine, oee_speed) if oee_speed is not None else None
        if endpoint.protocol == "opcua":
            from simulators.frontends.opcua_server import node_ref

            sim_device = device_id(model, unit)
            port = endpoint.port or model.opcua_port
            entry |= {
                "protocol": "opcua",
                "endpoint": f"opc.tcp://{endpoint.host}:{port}",
                "interval": model.interval,
                "signals": [
                    {"name": s.name, "node": node_ref(sim_device, s.name)}
                    | ({"unit": s.unit} if s.unit else {})
                    | write_limits(s)
                    | _alarms_of(unit.machine.alarms.get(s.name, ()))
                    for s in unit.machine.signals
                ],
            }
            if oee is not None:
                entry["oee"] = oee
            out.append(entry)
            continue
        if endpoint.protocol == "modbus-rtu":
            entry |= {
                "protocol": "modbus-rtu",
                "serial_port": endpoint.serial_port or "/dev/ttyUSB0",
                "baudrate": endpoint.baudrate,
            }
        else:
            entry |= {
                "protocol": "modbus-tcp",
                "host": endpoint.host,
                "port": endpoint.port or model.default_port,
            }
        entry |= {"unit": unit.unit_id, "interval": model.interval}
        suggested = unit.machine.alarms
        entry["signals"] = [
            signal_entry(s, suggested.get(s.name, ())) for s in unit.machine.signals
        ]
        if oee is not None:
            entry["oee"] = oee
        out.append(entry)
    return out


def _oee_lines(block: dict[str, Any], indent: str) -> list[str]:
    """A device `oee:` block as YAML lines under `indent`."""
    lines = [f"{indent}oee:"]
    for key, value in block.items():
        text = _flow(value) if isinstance(value, dict) else value
        lines.append(f"{indent}  {key}: {text}")
    return lines


def site_oee_lines(publish_interval: str = "1m", comment: str = "") -> list[str]:
    """The site `oee:` block (`simulators.oee.site_oee`) as YAML lines, each prefixed `comment`."""
    site = site_oee(publish_interval)
    lines = ["oee:  # the site's shifts: OEE per machine and shift"]
    lines.append(f"  timezone: {site['timezone']}")
    for key in ("shifts", "breaks"):
        lines.append(f"  {key}:")
        lines += [f"    - {_flow(window)}" for window in site[key]]
    lines.append(f"  publish_interval: {site['publish_interval']}")
    return [comment + line for line in lines]


def _alarms_of(rules: Sequence[Mapping[str, object]]) -> dict[str, object]:
    return {"alarms": [dict(rule) for rule in rules]} if rules else {}


def _flow(mapping: Mapping[str, object]) -> str:
    """A one-line YAML flow mapping; strings are JSON-quoted where YAML could misread them."""
    return "{" + ", ".join(f"{key}: {_flow_value(value)}" for key, value in mapping.items()) + "}"


def _flow_value(value: object) -> str:
    if isinstance(value, Mapping):
        return _flow(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow_value(item) for item in value) + "]"
    if isinstance(value, str) and value.replace("_", "").replace("-", "").isalnum():
        return value
    return json.dumps(value, ensure_ascii=False)


def sim_config(
    model: Model,
    endpoint: Endpoint,
    prefix: str | None = None,
    *,
    full: bool = False,
    mqtt_port: int = 1883,
    oee: bool = False,
    speed: float = 1.0,
) -> str:
    """The YAML `sim config` prints: a `devices:` list, or (`full`) a whole config file.

    With `oee`, each machine's `oee:` block for a simulator run at `--speed speed`, and the
    site `oee:` block (in a whole file; commented out above a bare `devices:` list).
    """
    lines: list[str] = []
    if full:
        lines += [
            "version: 1",
            "gateway:",
            f"  id: sim-{model.name}",
            "  site: training",
            "mqtt:",
            "  host: 127.0.0.1",
            f"  port: {mqtt_port}",
            "buffer:",
            "  path: ./buffer   # store-and-forward data, beside you (the service uses /var/lib)",
        ]
        if oee:
            lines += site_oee_lines()
    elif oee:
        lines.append("# the site's oee: block, once at the top level of the config file:")
        lines += site_oee_lines(comment="# ")
    lines.append(f"devices:  # gerbang sim run {model.name}: {model.description}")
    for entry in device_entries(model, endpoint, prefix, oee_speed=speed if oee else None):
        signals = entry.pop("signals")
        block = entry.pop("oee", None)
        first = True
        for key, value in entry.items():
            text = json.dumps(value) if key in ("serial_port", "endpoint") else value
            lines.append(f"  {'- ' if first else '  '}{key}: {text}")
            first = False
        lines.append("    signals:")
        lines += [f"      - {_flow(s)}" for s in signals]
        if block is not None:
            lines += _oee_lines(block, "    ")
        elif oee:
            lines.append("    # no oee: this machine counts no parts")
    return "\n".join(lines) + "\n"


def _range(s: Signal) -> str:
    if s.kind == "counter":
        return "0 – 4294967295 (wraps)"
    if s.type == "bool":
        return "0 / 1"
    if s.type == "string":
        return f"{2 * s.length} characters"
    fmt = "{:g}"
    return f"{fmt.format(s.lo)} – {fmt.format(s.hi)}"


def describe(model: Model) -> str:
    """The register map of `model` as Markdown (the source of docs/simulators/<model>.md)."""
    out = [
        f"# `{model.name}`: {model.description}",
        "",
        "<!-- generated by `gerbang sim describe "
        f"{model.name}` from simulators/models/; do not edit by hand -->",
        "",
        f"Protocols: {', '.join(model.protocols)}. Default TCP port {model.default_port} "
        "(`--port` to change). Addresses are zero-based PDU addresses as the gateway config "
        "uses them; the 1-based column is the traditional number (holding register 0 = 40001). "
        "Engineering value = raw × scale. 32-bit values use big-endian word order (ABCD) "
        "unless the word order column says `little` (CDAB).",
        "",
    ]
    if model.notes:
        out += [model.notes, ""]
    out += [
        f"OPC UA (`--protocol opcua`, default port {model.opcua_port}): namespace "
        "`urn:pilot-factory:simulators`, one object per machine under `Objects/Factory`, named "
        "by its device id below; each signal is a variable with the string node id "
        "`<device>.<signal>` (for example `nsu=urn:pilot-factory:simulators;s="
        f"{device_id(model, model.units[0])}.{model.units[0].machine.signals[0].name}`). "
        "Analog variables are Double with `EngineeringUnits` and `EURange`; counters UInt32; "
        "setpoints are writable within their range (else BadOutOfRange); each machine has the "
        "methods `InjectFault(name)` and `ClearFault(name)`. `out_of_range` shows as "
        "BadSensorFailure; the communication faults are Modbus-only.",
        "",
        "The `state` register: 0 off, 1 setup, 2 idle, 3 running, 4 fault, 5 maintenance. "
        "Setpoints (holding registers) refuse a value outside their range with exception 03; "
        "any address not listed answers exception 02. Setpoints and commands (coils) are what "
        "a client may write, over Modbus or OPC UA, and the physics follows them: "
        "`gerbang sim config` marks them `writable: true`, with their range as `min`/`max`, so "
        "the gateway's write API (docs/api.md) accepts them.",
        "",
    ]
    for unit in model.units:
        m = unit.machine
        out += [
            f"## Unit {unit.unit_id}: {unit.name} ({m.title})",
            "",
            f"OPC UA object: `Objects/Factory/{device_id(model, unit)}`.",
            "",
        ]
        out += [
            "| table | address | 1-based | signal | type | word order | scale | unit "
            "| range | description |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for s in sorted(m.signals, key=lambda s: (list(_FIRST).index(s.table), s.address)):
            size = f"–{_FIRST[s.table] + s.address + s.size - 1}" if s.size > 1 else ""
            scale = f"{s.scale:g}" if s.table in ("holding", "input") else ""
            order = ("CDAB" if s.word_order == "little" else "ABCD") if s.size > 1 else ""
            out.append(
                f"| {s.table} | {s.address} | {_FIRST[s.table] + s.address}{size} | "
                f"`{s.name}` | {s.type} | {order} | {scale} | {s.unit or ''} | {_range(s)} | "
                f"{s.description} |"
            )
        out += ["", f"Faults of unit {unit.unit_id} (`--fault NAME`, or write 1 to the coil, "
                "0 to clear it):", ""]  # fmt: skip
        out += ["| coil | fault | effect |", "| --- | --- | --- |"]
        for i, name in enumerate(fault_names(m.faults)):
            effect = GENERIC_FAULTS.get(name) or m.faults[name]
            effect = effect.replace("the probe signal", f"`{m.probe}`").replace(
                "the probe", f"`{m.probe}`"
            )
            out.append(f"| {FAULT_COIL_BASE + i} | `{name}` | {effect} |")
        out.append("")
    from simulators.plc_map import describe_plc  # here: plc_map imports this module

    return "\n".join(out) + "\n" + describe_plc(model)


def describe_index(models: list[Model]) -> str:
    """docs/simulators/README.md: every model, its protocols and ports, and the faults."""
    from simulators.core.faults import COMM_FAULTS, SENSOR_FAULTS

    out = [
        "# Simulated machines",
        "",
        "<!-- generated by `make sim-docs` from simulators/; do not edit by hand -->",
        "",
        "Run one with `gerbang sim run MODEL [--protocol modbus-tcp|modbus-rtu|opcua|s7|mc] "
        "[--port P] [--speed X] [--seed N] [--fault NAME] [--fault-rate R]`; print the gateway "
        "entry that reads it with `gerbang sim config MODEL` (same options). Every machine has "
        "the states off, setup, idle, running, fault and maintenance, counters of good and "
        "rejected output and of run time (for OEE), noise, and values that follow a simulated "
        "clock, never the reads.",
        "",
        "`--protocol s7` and `--protocol mc` serve a model as a Siemens S7 or a MELSEC PLC; "
        "each model's page gives those addresses too.",
        "",
        "| model | units (unit id, device id) | Modbus TCP port | OPC UA port | S7 port "
        "| MC port | description |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    from simulators.plc_map import default_port  # here: plc_map imports this module

    for m in models:
        units = ", ".join(f"{u.unit_id} `{device_id(m, u)}`" for u in m.units)
        out.append(
            f"| [`{m.name}`]({m.name}.md) | {units} | {m.default_port} | {m.opcua_port} | "
            f"{default_port(m, 's7')} | {default_port(m, 'mc')} | {m.description} |"
        )
    out += [
        "",
        "## Faults every machine has",
        "",
        "Set them with `--fault NAME` at start, with the machine's control coil at run time "
        f"(coil {FAULT_COIL_BASE} + n, listed on each model's page; write 1 to set, 0 to clear; "
        "the control coils answer even during a communication fault), with the OPC UA methods "
        "`InjectFault`/`ClearFault`, or at random with `--fault-rate` (faults per simulated "
        "hour per unit, each clearing by itself after about a minute). Each machine adds its own "
        "faults (overheat, jam, thread break...), listed on its page. Every fault set or cleared "
        "is logged with its simulated time.",
        "",
        "| fault | kind | effect |",
        "| --- | --- | --- |",
    ]
    out += [f"| `{n}` | sensor | {e} |" for n, e in SENSOR_FAULTS.items()]
    out += [f"| `{n}` | communication (Modbus) | {e} |" for n, e in COMM_FAULTS.items()]
    out.append("")
    return "\n".join(out)
