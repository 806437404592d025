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

from .alarms import AlarmRule, device_alarm_issues, signal_alarm_issues
from .oee import DeviceOee, SiteOee, oee_issues
from .rules import SERIAL_DEFAULTS, Loc, reference_issues, rule_error, signal_kind
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
    alarms: list[AlarmRule] = Field(default_factory=list, max_length=100)
    """Limits that raise an alarm on this signal (SPEC "Alarms", `config.alarms`)."""

    @model_validator(mode="after")
    def _alarms_fit(self) -> SignalBase:
        issues = signal_alarm_issues(self, self.alarms) if self.alarms else []
        if issues:
            raise rule_error(issues)
        return self


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


S7Type = Literal[
    "bool",
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
    "string",
]
McType = ModbusType


def _plc_issues(signal: S7Signal | McSignal, default_type: str) -> list[tuple[Loc, str]]:
    """The rules S7 and MC signals share: the address parses and fits the type (checked by the
    adapter's pure parser), and scale, offset and deadband are for numbers only."""
    issues: list[tuple[Loc, str]] = []
    if signal.type is None:
        signal.__dict__["type"] = default_type  # not an assignment: no re-validation
    if signal.type in ("bool", "string"):
        for field, neutral in (("scale", 1.0), ("offset", 0.0)):
            if getattr(signal, field) != neutral:
                issues.append(((field,), f"{field} applies to numbers, not to a {signal.type}"))
        if signal.deadband is not None:
            issues.append((("deadband",), f"deadband applies to numbers, not to a {signal.type}"))
    return issues


class S7Signal(SignalBase):
    """One value in a Siemens S7 PLC, at an address as STEP 7 / TIA Portal write it
    (`DB1.DBD0`, `MW20`, `I0.3`); the size letter must agree with `type`."""

    address: str = Field(min_length=1, max_length=64)
    type: S7Type | None = None
    """Defaults to bool (X), uint8 (B) and uint16 (W); a D address needs its type."""
    length: int | None = Field(None, ge=1, le=254)
    """A string's STRING[n] size in characters (it spans n + 2 bytes)."""
    scale: float = Field(1.0, allow_inf_nan=False)
    offset: float = Field(0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _consistent(self) -> S7Signal:
        # Imported here, not at the top: the core imports no adapter package until a config
        # names one (the parsers are pure, but the boundary is kept by import, not by trust).
        from adapters.s7.address import locate

        try:
            location = locate(self.address, self.type, self.length)
        except ValueError as exc:
            raise rule_error([(("address",), str(exc))]) from None
        issues = _plc_issues(self, location.type)
        if issues:
            raise rule_error(issues)
        return self


class McSignal(SignalBase):
    """One value in a Mitsubishi MELSEC PLC, at a device address as GX Works writes it
    (`D100`, `M10`, `X1A`, `D100.F`); 32-bit values take two words, low word first."""

    address: str = Field(min_length=1, max_length=64)
    type: McType | None = None
    """Defaults to bool on bit devices (and `D100.F`), int16 on word devices."""
    length: int | None = Field(None, ge=1, le=480)
    """A string's size in words (two characters a word)."""
    scale: float = Field(1.0, allow_inf_nan=False)
    offset: float = Field(0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _consistent(self) -> McSignal:
        from adapters.mc.address import locate  # see S7Signal: no adapter import at start-up

        try:
            location = locate(self.address, self.type, self.length)
        except ValueError as exc:
            raise rule_error([(("address",), str(exc))]) from None
        issues = _plc_issues(self, location.type)
        if issues:
            raise rule_error(issues)
        return self


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


class DeviceBase(Strict):
    """What every device has, whatever the protocol."""

    id: str = Field(pattern=ID_PATTERN, max_length=64)
    enabled: bool = True
    interval: Interval = 1.0
    timeout: Timeout = 1.0
    measurement: str = Field("machine", min_length=1, max_length=64)
    profile: str | None = None
    oee: DeviceOee | None = None
    """How this machine's OEE is computed (config/oee.py); needs the site `oee:` block."""


class ModbusDeviceBase(DeviceBase):
    """Modbus options common to TCP and RTU: unit id and read planning."""

    unit: int = Field(1, ge=0, le=255)
    max_registers: int = Field(125, ge=1, le=125)
    max_gap: int = Field(10, ge=0, le=124)
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


class S7Device(DeviceBase):
    """A Siemens S7 PLC (S7-300/400/1200/1500) over ISO-on-TCP (SPEC "More PLC families")."""

    protocol: Literal["s7"]
    host: str = Field(min_length=1)
    port: int = Field(102, ge=1, le=65535)
    rack: int = Field(0, ge=0, le=7)
    slot: int = Field(1, ge=0, le=31)
    """S7-300: 2; S7-1200/1500: 1 (or 0); S7-400: the CPU's slot."""
    connection_type: Literal["pg", "op", "basic"] = "pg"
    """The connection resource the PLC gives the gateway: PG (programming device, the usual),
    OP (operator panel) or S7 basic; use op or basic when the PLC's PG connections run out."""
    pdu_size: int = Field(480, ge=240, le=960)
    """The PDU size asked for; the PLC may grant less, and reads are planned within what it
    grants (240 on most S7-300 and S7-1200, 480 or 960 on S7-400 and S7-1500)."""
    max_gap: int = Field(20, ge=0, le=942)
    """Unused bytes worth reading through to save a request."""
    signals: list[S7Signal] = Field(default_factory=list)

    @property
    def link(self) -> str:
        """The connection this device shares with devices on the same PLC and CPU slot."""
        return f"s7://{self.host}:{self.port}/{self.rack}/{self.slot}/{self.connection_type}"


class McDevice(DeviceBase):
    """A Mitsubishi MELSEC PLC (Q, L, iQ-R, iQ-F) over MC protocol / SLMP, 3E binary frames."""

    protocol: Literal["mc"]
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    """The port set for MC protocol / SLMP in the PLC's Ethernet settings (no standard one)."""
    network: int = Field(0, ge=0, le=255)
    """Network number: 0, the station connected to."""
    station: int = Field(0xFF, ge=0, le=255)
    """Station (PC) number: 255 (0xFF), the CPU of the station connected to."""
    module_io: int = Field(0x03FF, ge=0, le=0xFFFF)
    """Request destination module I/O number: 0x03FF, the own CPU (0x03E0-0x03E3 multi-CPU)."""
    multidrop: int = Field(0, ge=0, le=255)
    """Request destination multidrop station number: 0."""
    max_words: int = Field(960, ge=1, le=960)
    """Word points in one batch read (960 is the protocol's limit)."""
    max_gap: int = Field(10, ge=0, le=959)
    """Unused words worth reading through to save a request."""
    signals: list[McSignal] = Field(default_factory=list)

    @property
    def link(self) -> str:
        """The connection this device shares with devices on the same host and port."""
        return f"mc://{self.host}:{self.port}"


Device = Annotated[
    ModbusTcpDevice | ModbusRtuDevice | OpcUaDevice | S7Device | McDevice,
    Field(discriminator="protocol"),
]
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
