"""The wiring table: which adapter serves each `protocol:` of the config.

This is the one place that names concrete adapters, by import path, so that the core imports
none of them and a protocol's library (pymodbus, asyncua, ...) is loaded only when a device of
that protocol is configured. Adding a protocol is its `adapters/<name>/` package (an `Adapter`
class, see `gateway.adapter`) plus one line here.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from gateway.adapter import Adapter, AdapterContext

ADAPTERS: dict[str, str] = {
    "modbus-tcp": "adapters.modbus.adapter:ModbusAdapter",
    "modbus-rtu": "adapters.modbus.adapter:ModbusAdapter",
    "opcua": "adapters.opcua.adapter:OpcUaAdapter",
    "s7": "adapters.s7.adapter:S7Adapter",
    "mc": "adapters.mc.adapter:McAdapter",
}
"""`protocol:` name -> `module:class` of its adapter. Names that share a class share one
instance per gateway (Modbus TCP and RTU devices may share a link registry)."""


COMMANDS: tuple[str, ...] = ("adapters.opcua.cli:register",)
"""Adapters' own `gerbang` subcommands (`gerbang opcua browse`): `module:function` that adds
them to the command's subparsers. Those modules import their protocol library lazily."""


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def register_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add every adapter's subcommands to `gerbang`."""
    for target in COMMANDS:
        _load(target)(sub)


class UnknownProtocol(LookupError):
    """A protocol no adapter is registered for (the config validator refuses these first)."""


class Adapters:
    """The adapters one gateway uses, created on first use and shared by its devices."""

    def __init__(self, context: AdapterContext, table: dict[str, str] | None = None) -> None:
        self.context = context
        self._table = ADAPTERS if table is None else table
        self._made: dict[str, Adapter] = {}

    def get(self, protocol: str) -> Adapter:
        """The adapter of `protocol`, imported and created on first use."""
        try:
            target = self._table[protocol]
        except KeyError:
            raise UnknownProtocol(f"no adapter for protocol {protocol!r}") from None
        adapter = self._made.get(target)
        if adapter is None:
            adapter = self._made[target] = _load(target)(self.context)
        return adapter

    def close(self) -> None:
        """Close every adapter made so far (the gateway stops)."""
        for adapter in self._made.values():
            adapter.close()
