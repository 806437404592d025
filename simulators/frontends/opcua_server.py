"""A `Simulation` served over OPC UA with asyncua, its node tree built from the declaration.

Namespace `urn:pilot-factory:simulators`; one object per machine under `Objects/Factory`,
named by its device id (`tofu-boiler`, `loom-3`), with one variable per signal whose string
node id is `<device>.<signal>`. Analog variables carry `EngineeringUnits` (EUInformation with
UNECE codes) and `EURange`; setpoints are writable and refuse a value outside their range
(BadOutOfRange); each machine has the methods `InjectFault(name)` and `ClearFault(name)`.
The sensor fault `out_of_range` shows as StatusCode BadSensorFailure, as a broken sensor does
on a real server; the communication faults (silent, slow, exception) are Modbus-only.

Values follow the simulation's clock: an updater task writes every variable twice a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC

from asyncua import Node, Server, ua
from asyncua.common.methods import uamethod
from asyncua.server.address_space import NodeData

from simulators.core.spec import Signal, Unit, Value
from simulators.engine import Simulation

log = logging.getLogger(__name__)

NAMESPACE = "urn:pilot-factory:simulators"
UPDATE_PERIOD = 0.5

# UNECE Recommendation 20 common codes, as OPC UA Part 8 maps them to UnitId.
_UNECE: dict[str, tuple[str, str]] = {
    "degC": ("CEL", "°C"),
    "bar": ("BAR", "bar"),
    "%": ("P1", "%"),
    "kg/h": ("E93", "kg/h"),
    "s": ("SEC", "s"),
    "A": ("AMP", "A"),
    "rpm": ("RPM", "r/min"),
    "mm/s": ("C16", "mm/s"),
    "L/min": ("L2", "l/min"),
    "Wh": ("WHR", "W·h"),
    "kWh": ("KWH", "kW·h"),
    "kW": ("KWT", "kW"),
    "Hz": ("HTZ", "Hz"),
    "kg": ("KGM", "kg"),
    "mA": ("4K", "mA"),
    "N": ("NEW", "N"),
    "cm": ("CMT", "cm"),
    "mm": ("MMT", "mm"),
    "mm/min": ("H81", "mm/min"),
    "ppm": ("59", "ppm"),
    "kN": ("B73", "kN"),
    "kWh/t": ("KWH", "kW·h/t"),
}


def unit_id(code: str) -> int:
    """OPC UA Part 8: the UnitId of a UNECE common code (its characters packed in an Int32)."""
    value = 0
    for char in code:
        value = (value << 8) | ord(char)
    return value


def eu_information(unit: str) -> ua.EUInformation:
    """EngineeringUnits for a unit name of our declarations (UnitId -1 when it has no code)."""
    code, symbol = _UNECE.get(unit, ("", unit))
    return ua.EUInformation(
        NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact",
        UnitId=unit_id(code) if code else -1,
        DisplayName=ua.LocalizedText(symbol),
        Description=ua.LocalizedText(unit),
    )


def variant_type(s: Signal) -> ua.VariantType:
    """The OPC UA type of a signal: Double for engineering values, integers for counters."""
    if s.type == "bool":
        return ua.VariantType.Boolean
    if s.type == "string":
        return ua.VariantType.String
    if s.kind == "counter" and s.scale == 1:
        return ua.VariantType.UInt32
    if s.kind in ("state", "status") and s.scale == 1:
        return ua.VariantType.UInt16
    return ua.VariantType.Double


def node_name(device: str, signal: str) -> str:
    """The string part of a variable's node id."""
    return f"{device}.{signal}"


def node_ref(device: str, signal: str) -> str:
    """The node id as the gateway config writes it, independent of namespace indexes."""
    return f"nsu={NAMESPACE};s={node_name(device, signal)}"


def _node_id(name: str, idx: int) -> ua.NodeId:
    """A string node id in namespace `idx`, its parts in the types asyncua declares."""
    return ua.NodeId(ua.String(name), ua.Int16(idx))


def _convert(s: Signal, value: Value) -> Value:
    vtype = variant_type(s)
    if vtype is ua.VariantType.Double:
        # Quantised as the register would be, so both protocols show the same number.
        return round(round(float(value) / s.scale) * s.scale, 6)
    if vtype in (ua.VariantType.UInt32, ua.VariantType.UInt16):
        return int(value) % 2**32
    if vtype is ua.VariantType.Boolean:
        return bool(value)
    return str(value)


class OpcUaFrontend:
    """The asyncua server of one simulation, and the task that advances it."""

    def __init__(self, sim: Simulation, devices: dict[int, str]) -> None:
        self.sim = sim
        self.devices = devices
        """Device id (object name) of each unit id."""
        self.server: Server | None = None
        self._nodes: list[tuple[int, Signal, ua.NodeId]] = []
        self._updater: asyncio.Task[None] | None = None
        self.endpoint = ""

    async def start(self, host: str, port: int) -> None:
        """Serve on opc.tcp://host:port (no security: a classroom simulator on loopback)."""
        server = Server()
        await server.init()
        self.endpoint = f"opc.tcp://{host}:{port}"
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"gerbang simulator: {self.sim.model.name}")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        idx = await server.register_namespace(NAMESPACE)
        factory = await server.nodes.objects.add_folder(
            _node_id("Factory", idx), ua.QualifiedName("Factory", idx)
        )
        for unit_id_, sim_unit in self.sim.units.items():
            await self._add_machine(server, factory, idx, sim_unit.unit, self.devices[unit_id_])
        self.server = server
        await server.start()
        self._update_once()
        await self._write_all()
        self._updater = asyncio.create_task(self._update(), name=f"opcua:{self.sim.model.name}")

    async def _add_machine(
        self, server: Server, factory: Node, idx: int, unit: Unit, device: str
    ) -> None:
        machine = await factory.add_object(_node_id(device, idx), ua.QualifiedName(device, idx))
        values = self.sim.units[unit.unit_id].values
        for s in unit.machine.signals:
            vtype = variant_type(s)
            node = await machine.add_variable(
                _node_id(node_name(device, s.name), idx),
                ua.QualifiedName(s.name, idx),
                ua.Variant(_convert(s, values[s.name]), vtype),
            )
            if vtype is ua.VariantType.Double:
                await node.add_property(idx, "EURange", ua.Range(s.lo, s.hi))
                if s.unit:
                    await node.add_property(idx, "EngineeringUnits", eu_information(s.unit))
            if s.description:
                await node.write_attribute(
                    ua.AttributeIds.Description,
                    ua.DataValue(ua.Variant(ua.LocalizedText(s.description))),
                )
            if s.writable:
                await node.set_writable()
                server.set_attribute_value_setter(node.nodeid, self._setter(unit.unit_id, s))
            else:
                self._nodes.append((unit.unit_id, s, node.nodeid))
        sim = self.sim

        @uamethod
        def inject_fault(_parent: ua.NodeId, name: str) -> bool:
            try:
                sim.inject(name, unit.unit_id)
            except ValueError as exc:
                raise ua.UaStatusCodeError(ua.StatusCodes.BadInvalidArgument) from exc
            return True

        @uamethod
        def clear_fault(_parent: ua.NodeId, name: str) -> bool:
            sim.clear(name, unit.unit_id)
            return True

        await machine.add_method(
            _node_id(f"{device}.InjectFault", idx), ua.QualifiedName("InjectFault", idx),
            inject_fault, [ua.VariantType.String], [ua.VariantType.Boolean],
        )  # fmt: skip
        await machine.add_method(
            _node_id(f"{device}.ClearFault", idx), ua.QualifiedName("ClearFault", idx),
            clear_fault, [ua.VariantType.String], [ua.VariantType.Boolean],
        )  # fmt: skip

    def _setter(
        self, unit_id_: int, s: Signal
    ) -> Callable[[NodeData, ua.AttributeIds, ua.DataValue], None]:
        commands = self.sim.units[unit_id_].commands

        def setter(node: NodeData, attr: ua.AttributeIds, value: ua.DataValue) -> None:
            new = value.Value.Value if value.Value is not None else None
            command: Value
            if s.type == "bool":
                command = bool(new)
            elif isinstance(new, int | float) and s.lo - 1e-9 <= new <= s.hi + 1e-9:
                command = float(new)
            else:
                raise ua.UaStatusCodeError(ua.StatusCodes.BadOutOfRange)
            node.attributes[attr].value = value
            commands[s.name] = command

        return setter

    def _update_once(self) -> None:
        self.sim.advance()

    async def _write_all(self) -> None:
        assert self.server is not None
        now = ua.DateTime.now(UTC)
        for unit_id_, s, nodeid in self._nodes:
            sim_unit = self.sim.units[unit_id_]
            probe = s.name == sim_unit.unit.machine.probe
            if probe and "out_of_range" in sim_unit.faults:
                dv = ua.DataValue(
                    StatusCode=ua.StatusCode(ua.UInt32(ua.StatusCodes.BadSensorFailure)),
                    SourceTimestamp=now,
                    ServerTimestamp=now,
                )
            else:
                dv = ua.DataValue(
                    ua.Variant(_convert(s, sim_unit.values[s.name]), variant_type(s)),
                    SourceTimestamp=now,
                    ServerTimestamp=now,
                )
            await self.server.write_attribute_value(nodeid, dv)

    async def _update(self) -> None:
        while True:
            await asyncio.sleep(UPDATE_PERIOD)
            try:
                self._update_once()
                await self._write_all()
            except Exception:  # a bug here must not stop the server answering
                log.exception("updating the OPC UA values of %s failed", self.sim.model.name)

    async def stop(self) -> None:
        if self._updater is not None:
            self._updater.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._updater
            self._updater = None
        if self.server is not None:
            await self.server.stop()
            self.server = None
