"""OPC UA devices (endpoint, security, login) and their signals (node ids)."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from .base import NAME_PATTERN, DeviceBase, SignalBase, Strict
from .rules import Loc, rule_error
from .types import (
    check_port,
)


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
