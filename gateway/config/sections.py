"""The gateway-wide sections of the config: identity, the HTTP API, MQTT, InfluxDB, the buffer."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from .base import ID_PATTERN, LEVEL_PATTERN, BufferSize, FlushInterval, Keepalive, Strict, Timeout
from .rules import rule_error
from .types import (
    check_port,
    number_text,
)


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


def protocol_text(value: object) -> object:
    """`protocol: 5` as YAML gives it (an int) or `5.0`, as the text the field's choices are."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 5:
        return "5"
    if isinstance(value, str) and value.strip() in ("5", "5.0", "v5"):
        return "5"
    return value


class MqttConfig(Strict):
    """The MQTT sink (SPEC "MQTT")."""

    enabled: bool = True
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(1883, ge=1, le=65535)
    client_id: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    tls: TlsConfig | None = None
    protocol: Annotated[Literal["3.1.1", "5"], BeforeValidator(protocol_text)] = "3.1.1"
    """`5` (MQTT 5): a publication the broker refuses (a PUBACK reason code such as "not
    authorized") is an error and stays buffered; MQTT 3.1.1 has no way to say so."""
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
    uint64: Literal["integer", "unsigned", "string"] = "integer"
    """The field type of a `uint64` signal: `integer` (int64: a value above
    9223372036854775807 is left out, logged once), `unsigned` (`u` fields: InfluxDB 2.x/3.x;
    InfluxDB 1.x refuses them) or `string` (the exact decimal, on every InfluxDB)."""

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
