"""Modbus signals that claim the same registers in different ways: a mapping mistake.

A float32 at 0 (registers 0-1) and a uint16 at 1 cannot both be right: one of them is read
from half of the other. It passes every other check and publishes plausible nonsense, so the
config refuses it and names both signals. What a real register map does on purpose stays
allowed: a `bit:` of a register another signal reads whole, and the very same registers read
as another type (same address, same size: a status word as uint16 and as int16).

Pure: signals in, (location, message) pairs out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .rules import Loc


class _Signal(Protocol):
    name: str
    table: str
    address: int
    type: str | None
    bit: int | None

    @property
    def size(self) -> int: ...


def _span(signal: _Signal) -> str:
    last = signal.address + signal.size - 1
    where = f"{signal.address}" if last == signal.address else f"{signal.address}-{last}"
    return f"'{signal.name}' ({signal.type}, {signal.table} {where})"


def overlap_issues(profiles: Mapping[str, Any], devices: Sequence[Any]) -> list[tuple[Loc, str]]:
    """The overlaps of every Modbus device's signals, its profile's included (as merged: the
    profile's signals the device does not redefine by name, then its own), located in the file.
    """
    issues: list[tuple[Loc, str]] = []
    for index, device in enumerate(devices):
        if not str(getattr(device, "protocol", "")).startswith("modbus"):
            continue
        own: list[tuple[Loc, _Signal]] = [
            (("devices", index, "signals", i), s) for i, s in enumerate(device.signals)
        ]
        profile = profiles.get(device.profile) if device.profile else None
        names = {signal.name for signal in device.signals}
        base: list[tuple[Loc, _Signal]] = [
            (("profiles", device.profile, "signals", i), s)
            for i, s in enumerate(profile.signals if profile is not None else ())
            if s.name not in names and hasattr(s, "table")
        ]
        issues += register_overlaps([*base, *own])
    return issues


def register_overlaps(signals: Sequence[tuple[Loc, _Signal]]) -> list[tuple[Loc, str]]:
    """One issue per signal whose registers partly overlap an earlier signal's, at its address."""
    issues: list[tuple[Loc, str]] = []
    by_table: dict[str, list[tuple[int, int, _Signal]]] = {}
    for loc, signal in signals:
        if signal.bit is not None:
            continue  # a bit of a register: reading the register whole as well is normal
        start, end = signal.address, signal.address + signal.size
        seen = by_table.setdefault(signal.table, [])
        for other_start, other_end, other in seen:
            same_registers = (other_start, other_end) == (start, end)
            if start < other_end and other_start < end and not same_registers:
                issues.append(
                    (
                        (*loc, "address"),
                        f"{_span(signal)} overlaps {_span(other)}: one of them is read from "
                        "part of the other's registers; check both addresses and types (reading "
                        "the same registers as another type, or a bit: of one, is allowed)",
                    )
                )
                break
        seen.append((start, end, signal))
    return issues
