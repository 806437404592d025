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
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    field_validator,
    model_validator,
)

from .rules import SERIAL_DEFAULTS, Loc, reference_issues, rule_error
from .types import (
    DURATION_OUT,
    DURATION_SCHEMA,
    SIZE_OUT,
    SIZE_SCHEMA,
    check_port,
    duration_between,
    number_text,
    size_between,
)

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
"""Gateway and device ids: they name MQTT topic levels and InfluxDB tags."""
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
"""Signal names: MQTT topic levels and InfluxDB field keys."""
LEVEL_PATTERN = r"^([A-Za-z0-9][A-Za-z0-9_.-]*)?$"
"""ISA-95 levels (site, area, line): empty, or one topic level."""

# The real range of every duration and size (config/README.md "Limits" lists them). A value the
# validator accepts must never stop the gateway from starting or make a loop spin.
Interval = Annotated[
    float,
    duration_between(0.01, 86_400, "a device is polled at most every 10 ms, at least daily"),
    DURATION_OUT,
    DURATION_SCHEMA,
]
Timeout = Annotated[
    float,
    duration_between(0.01, 600, "the longest one request may take"),
    DURATION_OUT,
    DURATION_SCHEMA,
]
Heartbeat = Annotated[
    float,
    duration_between(0.01, 86_400, "the longest an unchanged value goes unpublished"),
    DURATION_OUT,
    DURATION_SCHEMA,
]
Keepalive = Annotated[
    float,
    duration_between(1, 65_535, "MQTT counts it in whole seconds, 1 to 65535"),
    DURATION_OUT,
    DURATION_SCHEMA,
]
FlushInterval = Annotated[
    float,
    duration_between(0.001, 60, "the longest a point waits for its batch"),
    DURATION_OUT,
    DURATION_SCHEMA,
]
BufferSize = Annotated[
    int,
    size_between(1_000_000, 1_000_000_000_000, "the disk the buffer may use"),
    SIZE_OUT,
    SIZE_SCHEMA,
]

RegisterTable = Literal["holding", "input"]
Table = Literal["coil", "discrete", "holding", "input"]
ModbusType = Literal[
    "bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "string"
]
Order = Literal["big", "little"]

REGISTER_COUNT: dict[str, int] = {
    "bool": 1,
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "float32": 2,
    "int64": 4,
    "uint64": 4,
    "float64": 4,
}
"""Registers each type occupies (strings: their `length`)."""


_READ_ONLY = {"discrete": "a discrete input", "input": "an input register"}


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class GatewayIdentity(Strict):
    """Names this gateway and its place in the plant (ISA-95: site, area, line)."""

    id: str = Field(pattern=ID_PATTERN, max_length=64)
    site: str = Field("", pattern=LEVEL_PATTERN, max_length=64)
    area: str = Field("", pattern=LEVEL_PATTERN, max_length=64)
    line: str = Field("", pattern=LEVEL_PATTERN, max_length=64)
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class ApiToken(Strict):
    """A bearer token allowed to change the config, stored as its sha256 hex digest."""

    name: str = Field(min_length=1, max_length=64)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


class ApiConfig(Strict):
    """The HTTP API's listening address, who may change (or read) the config, and its TLS."""

    enabled: bool = True
    listen: str = Field("127.0.0.1:8080", pattern=r"^(\[[0-9A-Fa-f:.]+\]|[^:\s]+):\d{1,5}$")
    """host:port to listen on; the port 1..65535."""
    tokens: list[ApiToken] = Field(default_factory=list)
    read_requires_token: bool = False
    """Also require a token for reads (status, values, config, metrics); /healthz and /readyz
    stay open for probes."""
    tls_cert: str | None = None
    """PEM certificate (chain) file: the API then speaks HTTPS only."""
    tls_key: str | None = None
    """PEM private key of `tls_cert`."""
    allowed_hosts: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=253)]] = (
        Field(default_factory=list)
    )
    """Host names the API answers to besides IP literals and `localhost` (DNS rebinding)."""

    @field_validator("listen")
    @classmethod
    def _listen_port(cls, value: str) -> str:
        check_port(value.rpartition(":")[2])
        return value

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> ApiConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            missing = "tls_key" if self.tls_key is None else "tls_cert"
            given = "tls_cert" if missing == "tls_key" else "tls_key"
            raise rule_error(
                [((missing,), f"missing {missing}: {given} needs it (give both or neither)")]
            )
        return self


class TlsConfig(Strict):
    """TLS for a client connection: the CA to trust, optionally a client certificate and key."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False
    """Skip the server hostname check (self-signed test brokers only)."""

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            missing = "key_file" if self.key_file is None else "cert_file"
            given = "cert_file" if missing == "key_file" else "key_file"
            raise rule_error(
                [((missing,), f"missing {missing}: {given} needs it (give both or neither)")]
            )
        return self


class MqttConfig(Strict):
    """The MQTT sink (SPEC "MQTT")."""

    enabled: bool = True
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(1883, ge=1, le=65535)
    client_id: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    tls: TlsConfig | None = None
    qos: Annotated[Literal[0, 1, 2], BeforeValidator(number_text)] = 1
    retain: bool = True
    topic_prefix: str = Field("factory", pattern=r"^[^#+\s]*$")
    mode: Literal["per_signal", "per_device"] = "per_signal"
    keepalive: Keepalive = 30.0
    max_inflight: int = Field(50, ge=1, le=1000)
    commands: bool = False
    """Carry out `.../{signal}/$set` write commands (SPEC "Writing to machines"); off by
    default: anyone who may publish to the broker could then write to a machine."""


class InfluxConfig(Strict):
    """The InfluxDB sink (SPEC "InfluxDB"): api v2 (org, bucket, token) or v1 (database)."""

    enabled: bool = False
    url: str = "http://127.0.0.1:8086"
    api: Literal["v1", "v2"] = "v2"
    org: str | None = None
    bucket: str | None = None
    token: SecretStr | None = None
    database: str | None = None
    retention_policy: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    batch_size: int = Field(5000, ge=1, le=100_000)
    flush_interval: FlushInterval = 0.5
    """The longest a point waits for its batch; below the buffer's 0.75 s, so that a healthy
    database never costs a write to the SD card."""
    timeout: Timeout = 10.0
    gzip: bool = False
    """Compress writes: worth it on a slow uplink (a cellular modem), not on a LAN."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"'{value}' is not an InfluxDB URL; write http://HOST:PORT (or https://)"
            )
        try:
            port = parts.port
        except ValueError:
            port = -1
        if port is not None and not 1 <= port <= 65535:
            raise ValueError(
                f"the port of '{value}' is out of range: ports are 1 to 65535 "
                "(InfluxDB listens on 8086)"
            )
        return value

    @model_validator(mode="after")
    def _api_fields(self) -> InfluxConfig:
        if not self.enabled:
            return self
        needed = ("org", "bucket") if self.api == "v2" else ("database",)
        missing = [field for field in needed if not getattr(self, field)]
        if missing:
            raise rule_error(
                [
                    ((field,), f"missing {field}: api {self.api} needs {' and '.join(needed)}")
                    for field in missing
                ]
            )
        return self


class BufferConfig(Strict):
    """Where the store-and-forward buffer keeps data, and how much it may hold."""

    path: str = "/var/lib/gerbang/buffer"
    max_size: BufferSize = 1_000_000_000


class SignalBase(Strict):
    """What every signal has, whatever the protocol."""

    name: str = Field(pattern=NAME_PATTERN, max_length=64)
    unit: str | None = Field(None, max_length=32)
    deadband: float | None = Field(None, ge=0, allow_inf_nan=False)
    heartbeat: Heartbeat = 60.0
    writable: bool = False
    """Whether the gateway may write this signal (SPEC "Writing to machines"); never by default."""
    min: float | None = Field(None, allow_inf_nan=False)
    """The lowest value a write may set (numbers only), in the signal's unit."""
    max: float | None = Field(None, allow_inf_nan=False)
    """The highest value a write may set (numbers only), in the signal's unit."""

    def _limit_issues(self, kind: str | None) -> list[tuple[Loc, str]]:
        """The broken rules of `writable`, `min` and `max`; `kind` is the signal's type when
        it is not a number (bool, string), else None."""
        issues: list[tuple[Loc, str]] = []
        for field in ("min", "max"):
            if getattr(self, field) is None:
                continue
            if kind is not None:
                issues.append(((field,), f"{field} limits numbers, not a {kind}"))
            elif not self.writable:
                issues.append(
                    ((field,), f"{field} limits writes: add writable: true, or remove {field}")
                )
        if self.min is not None and self.max is not None and self.min > self.max:
            issues.append((("max",), f"max {self.max:g} is below min {self.min:g}"))
        return issues


class ModbusSignal(SignalBase):
    """One value in a Modbus device's tables, and how to decode it."""

    table: Table
    address: int = Field(ge=0, le=65535)
    type: ModbusType | None = None
    """Defaults to bool for coil/discrete and uint16 for holding/input."""
    byte_order: Order = "big"
    word_order: Order = "big"
    bit: int | None = Field(None, ge=0, le=15)
    length: int | None = Field(None, ge=1, le=125)
    scale: float = Field(1.0, allow_inf_nan=False)
    offset: float = Field(0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _consistent(self) -> ModbusSignal:
        bit_table = self.table in ("coil", "discrete")
        if self.type is None:
            # Not an assignment: that would validate the model again from inside its validator.
            self.__dict__["type"] = "bool" if bit_table else "uint16"
        issues: list[tuple[Loc, str]] = []
        if bit_table and self.type != "bool":
            issues.append(
                (("type",), f"a {self.table} holds one bit: type must be bool, not {self.type}")
            )
        if self.bit is not None:
            if bit_table:
                issues.append(
                    (("bit",), f"bit picks a bit of a register; a {self.table} is one bit already")
                )
            elif self.type != "bool":
                issues.append(
                    (("bit",), f"bit needs type bool (the bit is read as a bool), not {self.type}")
                )
        if self.type == "string" and self.length is None:
            issues.append((("length",), "a string needs length: the number of registers it spans"))
        elif self.type != "string" and self.length is not None:
            issues.append((("length",), f"length is only for type string, not {self.type}"))
        if self.type in ("bool", "string"):
            for field, neutral in (("scale", 1.0), ("offset", 0.0)):
                if getattr(self, field) != neutral:
                    issues.append(((field,), f"{field} applies to numbers, not to a {self.type}"))
            if self.deadband is not None:
                issues.append((("deadband",), f"deadband applies to numbers, not to a {self.type}"))
        if self.writable and self.table in ("discrete", "input"):
            issues.append(
                (
                    ("writable",),
                    f"{_READ_ONLY[self.table]} is read-only in Modbus: only coil and holding "
                    "signals can be written",
                )
            )
        numeric = self.type not in ("bool", "string")
        issues.extend(self._limit_issues(None if numeric else self.type))
        if self.address + self.size - 1 > 65535:
            issues.append(
                (
                    ("address",),
                    f"{self.type} at address {self.address} spans {self.size} registers, "
                    "past the last address 65535",
                )
            )
        if issues:
            raise rule_error(issues)
        return self

    @property
    def size(self) -> int:
        """Registers (or bits) this signal occupies."""
        if self.table in ("coil", "discrete"):
            return 1
        if self.type == "string":
            return self.length or 1
        return REGISTER_COUNT[self.type or "uint16"]


class OpcUaSignal(SignalBase):
    """One OPC UA variable, by node id (`ns=2;s=...`, `i=...`, or `nsu=<uri>;s=...`)."""

    node: str = Field(min_length=3)

    @field_validator("node")
    @classmethod
    def _node_id(cls, value: str) -> str:
        from gateway.config.nodeids import parse_node_id

        parse_node_id(value)  # NodeIdError is a ValueError: pydantic reports its message
        return value

    @model_validator(mode="after")
    def _limits(self) -> OpcUaSignal:
        # The node's data type is known only at run time: min/max are checked against a
        # number when a write comes.
        issues = self._limit_issues(None)
        if issues:
            raise rule_error(issues)
        return self


class OpcUaMethod(Strict):
    """An OPC UA method a technician may call (`POST /api/v1/devices/{id}/methods/{name}`)."""

    name: str = Field(pattern=NAME_PATTERN, max_length=64)
    object: str = Field(min_length=3)
    """The node id of the object the method belongs to (the call's ObjectId)."""
    method: str = Field(min_length=3)
    """The node id of the method itself."""

    @field_validator("object", "method")
    @classmethod
    def _node_id(cls, value: str) -> str:
        from gateway.config.nodeids import parse_node_id

        parse_node_id(value)
        return value


def _signal_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "opcua" if "node" in value else "modbus"
    return "opcua" if isinstance(value, OpcUaSignal) else "modbus"


AnySignal = Annotated[
    Annotated[ModbusSignal, Tag("modbus")] | Annotated[OpcUaSignal, Tag("opcua")],
    Discriminator(_signal_kind),
]


class Profile(Strict):
    """A signal map shared by many identical machines (SPEC "profiles")."""

    signals: list[AnySignal] = Field(default_factory=list)


class DeviceBase(Strict):
    """What every device has, whatever the protocol."""

    id: str = Field(pattern=ID_PATTERN, max_length=64)
    enabled: bool = True
    interval: Interval = 1.0
    timeout: Timeout = 1.0
    measurement: str = Field("machine", min_length=1, max_length=64)
    profile: str | None = None


class ModbusDeviceBase(DeviceBase):
    """Modbus options common to TCP and RTU: unit id and read planning."""

    unit: int = Field(1, ge=0, le=255)
    max_registers: int = Field(125, ge=1, le=125)
    max_gap: int = Field(10, ge=0, le=124)
    write_multiple: bool = False
    """Write with functions 15 and 16 only (for devices without 5 and 6)."""
    signals: list[ModbusSignal] = Field(default_factory=list)


class ModbusTcpDevice(ModbusDeviceBase):
    """A Modbus TCP device, or a unit behind a TCP-to-RTU converter."""

    protocol: Literal["modbus-tcp"]
    host: str = Field(min_length=1)
    port: int = Field(502, ge=1, le=65535)

    @property
    def link(self) -> str:
        """The connection this device shares with every device on the same host and port."""
        return f"tcp://{self.host}:{self.port}"


class ModbusRtuDevice(ModbusDeviceBase):
    """A Modbus RTU device on a serial port (RS-485 or RS-232)."""

    protocol: Literal["modbus-rtu"]
    serial_port: str = Field(min_length=1)
    baudrate: int = Field(SERIAL_DEFAULTS["baudrate"], ge=300, le=4_000_000)
    parity: Literal["N", "E", "O"] = SERIAL_DEFAULTS["parity"]
    stopbits: Annotated[Literal[1, 2], BeforeValidator(number_text)] = SERIAL_DEFAULTS["stopbits"]
    bytesize: Annotated[Literal[7, 8], BeforeValidator(number_text)] = SERIAL_DEFAULTS["bytesize"]

    @property
    def link(self) -> str:
        """The serial bus this device shares with every device on the same port."""
        return f"rtu://{self.serial_port}"


class OpcUaSecurity(Strict):
    """OPC UA message security and the client's certificate."""

    policy: Literal["None", "Basic256Sha256"] = "None"
    mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    certificate: str | None = None
    private_key: str | None = None
    server_certificate: str | None = None
    trust_on_first_use: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> OpcUaSecurity:
        issues: list[tuple[Loc, str]] = []
        if (self.policy == "None") != (self.mode == "None"):
            issues.append(
                (
                    ("mode",),
                    f"mode {self.mode} does not fit policy {self.policy}: policy None goes with "
                    "mode None, and a real policy with Sign or SignAndEncrypt",
                )
            )
        if self.policy != "None":
            for field in ("certificate", "private_key"):
                if not getattr(self, field):
                    issues.append(((field,), f"missing {field}: policy {self.policy} needs it"))
        if issues:
            raise rule_error(issues)
        return self


class OpcUaDevice(DeviceBase):
    """An OPC UA server (a machine or a PLC)."""

    protocol: Literal["opcua"]
    endpoint: str = Field(pattern=r"^opc\.tcp://")
    security: OpcUaSecurity = Field(default_factory=OpcUaSecurity)
    username: str | None = None
    password: SecretStr | None = None
    subscribe: bool = True
    signals: list[OpcUaSignal] = Field(default_factory=list)
    methods: list[OpcUaMethod] = Field(default_factory=list)
    """Methods that may be called through the gateway; none by default."""

    @model_validator(mode="after")
    def _unique_methods(self) -> OpcUaDevice:
        seen: set[str] = set()
        issues: list[tuple[Loc, str]] = []
        for index, method in enumerate(self.methods):
            if method.name in seen:
                issues.append((("methods", index, "name"), f"method {method.name} is listed twice"))
            seen.add(method.name)
        if issues:
            raise rule_error(issues)
        return self

    @field_validator("endpoint")
    @classmethod
    def _endpoint_port(cls, value: str) -> str:
        authority = value[len("opc.tcp://") :].partition("/")[0]
        host, colon, port = authority.rpartition(":")
        if not colon or port.endswith("]"):  # no port (4840), or an IPv6 address alone
            host, port = authority, ""
        if not host:
            raise ValueError(f"'{value}' names no host; write opc.tcp://HOST:PORT")
        if port:
            check_port(port)
        return value


Device = Annotated[ModbusTcpDevice | ModbusRtuDevice | OpcUaDevice, Field(discriminator="protocol")]
ModbusDevice = ModbusTcpDevice | ModbusRtuDevice


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
        if issues:
            raise rule_error(issues)
        for device in self.devices:
            if device.profile is None:
                continue
            own = device.signals
            names = {signal.name for signal in own}
            profile = self.profiles[device.profile]
            base = [s.model_copy() for s in profile.signals if s.name not in names]
            device.signals = [*base, *own]  # type: ignore[assignment,list-item]
        return self

    def device(self, device_id: str) -> ModbusTcpDevice | ModbusRtuDevice | OpcUaDevice | None:
        """The device with this id, or None."""
        return next((d for d in self.devices if d.id == device_id), None)
