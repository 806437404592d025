"""Config rules that span several fields, written so that every broken rule names its own field.

pydantic reports one error per model validator, at the model's location. A technician needs the
field and its line instead, and every broken rule at once, so the cross-field validators in
`models.py` collect `(relative location, message)` pairs and raise them together with
`rule_error`; the loader unpacks them into one issue each.

`reference_issues` checks the rules that span the whole file (unique device ids and signal names,
profiles that exist and fit the device's protocol, devices on one serial port that agree on its
settings). It works on plain data, not on models, so that the loader can run it even when other
parts of the file are invalid and report everything in one run; `Config` runs the same function
after validation.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic_core import PydanticCustomError

Loc = tuple[str | int, ...]
"""A location in the config data: keys and list indexes, as pydantic's `loc`."""

RULE_ERROR = "config_rule"
"""The pydantic error type of `rule_error`; its context holds the individual issues."""

SERIAL_DEFAULTS: dict[str, Any] = {"baudrate": 9600, "parity": "N", "stopbits": 1, "bytesize": 8}
"""Serial line settings and their defaults: every device on one port must agree on them."""


def rule_error(issues: Sequence[tuple[Loc, str]]) -> PydanticCustomError:
    """One pydantic error carrying several issues, each relative to the failing model."""
    summary = "; ".join(
        f"{'.'.join(str(part) for part in loc)}: {message}" if loc else message
        for loc, message in issues
    )
    return PydanticCustomError(
        RULE_ERROR,
        "{summary}",
        {"summary": summary, "issues": [(list(loc), message) for loc, message in issues]},
    )


def did_you_mean(word: object, choices: Iterable[object]) -> str | None:
    """The choice closest to `word` (case-insensitive), or None when nothing is close."""
    by_folded = {str(choice).casefold(): str(choice) for choice in choices}
    match = difflib.get_close_matches(str(word).casefold(), list(by_folded), n=1, cutoff=0.6)
    return by_folded[match[0]] if match else None


def plc_family(address: str) -> str:
    """`s7` when `address` is written as Siemens tools write addresses, else `mc` (MELSEC).

    The two families never spell one address alike: S7 has DB<n>., the areas I, E, Q, A, and
    M with a size letter or a bit (`MW20`, `M0.1`); MELSEC has D, W, R, X, Y, B, L and M with a
    plain number (`M10`). Used where no device says the protocol (a profile's signals).
    """
    s = "".join(address.split()).upper().removeprefix("%")
    if s.startswith("DB") or s[:1] in ("I", "E", "Q", "A"):
        return "s7"
    if s[:1] == "M" and (s[1:2] in ("X", "B", "W", "D") or "." in s):
        return "s7"
    return "mc"


def signal_kind(signal: Mapping[str, Any]) -> str:
    """`opcua` for a signal with a `node`, `modbus` with a `table` or a numeric address, and
    `s7` or `mc` for a PLC address (`plc_family`): the same rule as the model's union."""
    if "node" in signal:
        return "opcua"
    address = signal.get("address")
    if "table" in signal or not isinstance(address, str):
        return "modbus"
    return plc_family(address)


_PROTOCOL_KINDS = {"modbus-tcp": "modbus", "modbus-rtu": "modbus", "opcua": "opcua"}
_PROTOCOL_KINDS |= {"s7": "s7", "mc": "mc"}


def protocol_kind(protocol: object) -> str | None:
    """The kind of signals a device of this protocol reads, or None for an unknown protocol."""
    return _PROTOCOL_KINDS.get(protocol) if isinstance(protocol, str) else None


_KIND_NAMES = {
    "modbus": "Modbus signals (table, address)",
    "opcua": "OPC UA signals (node)",
    "s7": "S7 signals (address such as DB1.DBW8)",
    "mc": "MELSEC signals (address such as D100)",
}


def _dicts(items: object) -> list[tuple[int, Mapping[str, Any]]]:
    if not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, Mapping)]


def _duplicate_names(signals: object, where: Loc, owner: str) -> list[tuple[Loc, str]]:
    issues: list[tuple[Loc, str]] = []
    first: dict[str, int] = {}
    for index, signal in _dicts(signals):
        name = signal.get("name")
        if not isinstance(name, str):
            continue
        if name in first:
            issues.append(
                (
                    (*where, index, "name"),
                    f"signal name '{name}' is used twice in {owner} "
                    f"(first at signals[{first[name]}])",
                )
            )
        else:
            first[name] = index
    return issues


def _profile_kinds(profiles: Mapping[str, Any]) -> tuple[dict[str, str], list[tuple[Loc, str]]]:
    """The signal kind of each single-protocol profile, and issues for mixed profiles."""
    kinds: dict[str, str] = {}
    issues: list[tuple[Loc, str]] = []
    for name, profile in profiles.items():
        if not isinstance(profile, Mapping):
            continue
        signals = profile.get("signals")
        issues += _duplicate_names(signals, ("profiles", name, "signals"), f"profile '{name}'")
        seen: str | None = None
        for index, signal in _dicts(signals):
            kind = signal_kind(signal)
            if seen is None:
                seen = kind
            elif kind != seen:
                issues.append(
                    (
                        ("profiles", name, "signals", index),
                        f"profile '{name}' mixes {_KIND_NAMES[seen]} and {_KIND_NAMES[kind]}; "
                        "a profile serves devices of one protocol",
                    )
                )
                seen = "mixed"
                break
        if seen is not None and seen != "mixed":
            kinds[str(name)] = seen
        elif seen == "mixed":
            kinds[str(name)] = "mixed"
    return kinds, issues


def _profile_reference(
    index: int, device: Mapping[str, Any], profiles: Mapping[str, Any], kinds: Mapping[str, str]
) -> list[tuple[Loc, str]]:
    name = device.get("profile")
    if not isinstance(name, str):
        return []
    where: Loc = ("devices", index, "profile")
    if name not in profiles:
        if not profiles:
            return [(where, f"no profile '{name}': this file defines no profiles")]
        guess = did_you_mean(name, profiles)
        hint = f"; did you mean '{guess}'?" if guess else f" (profiles: {', '.join(profiles)})"
        return [(where, f"no profile '{name}'{hint}")]
    kind = kinds.get(name)
    wanted = protocol_kind(device.get("protocol"))
    if kind in (None, "mixed") or wanted is None or kind == wanted:
        return []
    return [
        (
            where,
            f"profile '{name}' has {_KIND_NAMES[kind]}, but device '{device.get('id')}' "
            f"speaks {device.get('protocol')}, which reads {_KIND_NAMES[wanted]}",
        )
    ]


def _serial_conflicts(devices: list[tuple[int, Mapping[str, Any]]]) -> list[tuple[Loc, str]]:
    issues: list[tuple[Loc, str]] = []
    first_on_port: dict[str, tuple[int, Mapping[str, Any]]] = {}
    for index, device in devices:
        port = device.get("serial_port")
        if device.get("protocol") != "modbus-rtu" or not isinstance(port, str):
            continue
        if port not in first_on_port:
            first_on_port[port] = (index, device)
            continue
        first_index, first = first_on_port[port]
        for key, default in SERIAL_DEFAULTS.items():
            mine, theirs = device.get(key, default), first.get(key, default)
            if mine != theirs:
                implied = "" if key in device else " (the default)"
                issues.append(
                    (
                        ("devices", index, key),
                        f"{key} {mine}{implied} differs from {theirs} of device "
                        f"'{first.get('id')}' "
                        f"(devices[{first_index}]) on the same port {port}; devices on one "
                        "serial port share its settings",
                    )
                )
    return issues


def reference_issues(profiles: object, devices: object) -> list[tuple[Loc, str]]:
    """Every broken file-wide rule, each at the location of the field that breaks it.

    Tolerates malformed data (it skips what it cannot read: field validation reports that).
    """
    profiles = profiles if isinstance(profiles, Mapping) else {}
    kinds, issues = _profile_kinds(profiles)
    device_items = _dicts(devices)
    first_id: dict[str, int] = {}
    for index, device in device_items:
        device_id = device.get("id")
        if isinstance(device_id, str):
            if device_id in first_id:
                issues.append(
                    (
                        ("devices", index, "id"),
                        f"device id '{device_id}' is used twice "
                        f"(first at devices[{first_id[device_id]}])",
                    )
                )
            else:
                first_id[device_id] = index
        issues += _duplicate_names(
            device.get("signals"), ("devices", index, "signals"), f"device '{device_id}'"
        )
        issues += _profile_reference(index, device, profiles, kinds)
    issues += _serial_conflicts(device_items)
    return issues
