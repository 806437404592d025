"""The config schema (SPEC "Config file"), as pydantic v2 models.

This is the one validator for the config file and the HTTP API. Every model forbids unknown keys
so that a typo is an error, never silently ignored. Devices are a union discriminated by
`protocol`. Cross-field rules (a `bit` only on a register read as bool, `length` only on strings,
register ranges within 0..65535, unique ids and names, profiles that exist) are model validators
that raise every broken rule at once, each at its own field (`rules.rule_error`), so that the
loader can point at the right line.

Profiles are validated where they are written (`profiles.NAME.signals[i]`), then merged into
devices: after validation, a device's `signals` holds the profile's signals overridden and
extended by the device's own, so nothing downstream needs to know profiles exist.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from .alarms import device_alarm_issues
from .base import (
    ID_PATTERN,
    LEVEL_PATTERN,
    NAME_PATTERN,
    BufferSize,
    DeviceBase,
    FlushInterval,
    Heartbeat,
    Interval,
    Keepalive,
    SignalBase,
    Strict,
    Timeout,
)
from .modbus import (
    REGISTER_COUNT,
    ModbusDevice,
    ModbusDeviceBase,
    ModbusRtuDevice,
    ModbusSignal,
    ModbusTcpDevice,
    ModbusType,
    Order,
    RegisterTable,
    Table,
)
from .oee import SiteOee, oee_issues
from .opcua import OpcUaDevice, OpcUaMethod, OpcUaSecurity, OpcUaSignal
from .overlaps import overlap_issues
from .plc import McDevice, McSignal, McType, S7Device, S7Signal, S7Type
from .rules import Loc, reference_issues, rule_error, signal_kind
from .sections import (
    ApiConfig,
    ApiToken,
    BufferConfig,
    GatewayIdentity,
    InfluxConfig,
    MqttConfig,
    TlsConfig,
)

__all__ = [
    "ID_PATTERN",
    "LEVEL_PATTERN",
    "NAME_PATTERN",
    "REGISTER_COUNT",
    "AnySignal",
    "ApiConfig",
    "ApiToken",
    "BufferConfig",
    "BufferSize",
    "Config",
    "Device",
    "DeviceBase",
    "FlushInterval",
    "GatewayIdentity",
    "Heartbeat",
    "InfluxConfig",
    "Interval",
    "Keepalive",
    "McDevice",
    "McSignal",
    "McType",
    "ModbusDevice",
    "ModbusDeviceBase",
    "ModbusRtuDevice",
    "ModbusSignal",
    "ModbusTcpDevice",
    "ModbusType",
    "MqttConfig",
    "OpcUaDevice",
    "OpcUaMethod",
    "OpcUaSecurity",
    "OpcUaSignal",
    "Order",
    "Profile",
    "RegisterTable",
    "S7Device",
    "S7Signal",
    "S7Type",
    "SignalBase",
    "Strict",
    "Table",
    "Timeout",
    "TlsConfig",
]


_SIGNAL_MODELS: dict[type[BaseModel], str] = {}


def _signal_kind(value: Any) -> str:
    if isinstance(value, dict):
        return signal_kind(value)
    return _SIGNAL_MODELS.get(type(value), "modbus")


AnySignal = Annotated[
    Annotated[ModbusSignal, Tag("modbus")]
    | Annotated[OpcUaSignal, Tag("opcua")]
    | Annotated[S7Signal, Tag("s7")]
    | Annotated[McSignal, Tag("mc")],
    Discriminator(_signal_kind),
]
_SIGNAL_MODELS.update({OpcUaSignal: "opcua", S7Signal: "s7", McSignal: "mc"})


class Profile(Strict):
    """A signal map shared by many identical machines (SPEC "profiles")."""

    signals: list[AnySignal] = Field(default_factory=list)


Device = Annotated[
    ModbusTcpDevice | ModbusRtuDevice | OpcUaDevice | S7Device | McDevice,
    Field(discriminator="protocol"),
]


class Config(Strict):
    """A whole gateway config file (SPEC "Config file", `version: 1`)."""

    version: Literal[1]
    gateway: GatewayIdentity
    api: ApiConfig = Field(default_factory=ApiConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    influxdb: InfluxConfig = Field(default_factory=InfluxConfig)
    buffer: BufferConfig = Field(default_factory=BufferConfig)
    profiles: dict[str, Profile] = Field(default_factory=dict)
    devices: list[Device] = Field(default_factory=list)
    oee: SiteOee | None = None
    """The site's shifts for OEE (config/oee.py); devices opt in with their own `oee:`."""

    @model_validator(mode="after")
    def _references_and_profiles(self) -> Config:
        """Check the file-wide rules, then merge each device's profile into its signals.

        Profiles are validated on their own (errors point at the profile, once), and merged only
        once everything is valid: the profile's signals first, minus those the device redefines
        by name, then the device's own.
        """
        # What was written, not the defaults: so that messages can tell the two apart.
        view = self.model_dump(include={"profiles", "devices"}, exclude_unset=True)
        issues = reference_issues(view.get("profiles"), view.get("devices"))
        issues += _alarm_name_issues(self.profiles, self.devices)
        issues += overlap_issues(self.profiles, self.devices)
        if issues:
            raise rule_error(issues)
        for device in self.devices:
            if device.profile is None:
                continue
            own = device.signals
            names = {signal.name for signal in own}
            profile = self.profiles[device.profile]
            base = [s.model_copy() for s in profile.signals if s.name not in names]
            device.signals = [*base, *own]
        return self

    @model_validator(mode="after")
    def _oee_references(self) -> Config:
        """The devices' OEE signals exist and fit (after the profiles are merged, above)."""
        issues = oee_issues(self)
        if issues:
            raise rule_error(issues)
        return self

    def device(
        self, device_id: str
    ) -> ModbusTcpDevice | ModbusRtuDevice | OpcUaDevice | S7Device | McDevice | None:
        """The device with this id, or None."""
        return next((d for d in self.devices if d.id == device_id), None)


def _alarm_name_issues(
    profiles: dict[str, Profile],
    devices: list[ModbusTcpDevice | ModbusRtuDevice | OpcUaDevice | S7Device | McDevice],
) -> list[tuple[Loc, str]]:
    """Alarm names used twice on one device, its profile's signals included (`config.alarms`)."""
    issues: list[tuple[Loc, str]] = []
    for name, profile in profiles.items():
        where: Loc = ("profiles", name, "signals")
        signals: list[tuple[Loc, Any]] = [((*where, i), s) for i, s in enumerate(profile.signals)]
        issues += device_alarm_issues(signals, f"profile '{name}'")
    for index, device in enumerate(devices):
        own: list[tuple[Loc, Any]] = [
            (("devices", index, "signals", i), s) for i, s in enumerate(device.signals)
        ]
        used = profiles.get(device.profile) if device.profile else None
        names = {signal.name for signal in device.signals}
        base: list[tuple[Loc, Any]] = [
            (("profiles", device.profile or "", "signals", i), s)
            for i, s in enumerate(used.signals if used else ())
            if s.name not in names
        ]
        found = device_alarm_issues([*base, *own], f"device '{device.id}'")
        issues += [issue for issue in found if issue[0][0] == "devices" or not used]
    return issues
