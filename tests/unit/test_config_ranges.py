"""Every number in the config has its real range: a value out of it is an error that gives the
range, and the bounds themselves are accepted (a config that validates must run)."""

from __future__ import annotations

import math
import typing

import pytest
from pydantic import BaseModel

from gateway.config.issues import ConfigError
from gateway.config.loader import parse_config_text
from gateway.config.models import Config

HEAD = "version: 1\ngateway: {id: g}\n"
MODBUS = "devices: [{id: d, protocol: modbus-tcp, host: h, %s, signals: [{name: a, %s}]}]"
SIGNAL = "table: holding, address: 0"


def _modbus(device: str = "unit: 1", signal: str = SIGNAL) -> str:
    return MODBUS % (device, signal)


def _issues(body: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config_text(HEAD + body + "\n", "gw.yaml", env={})
    return [f"{issue.path}: {issue.message}" for issue in caught.value.issues]


def _load(body: str) -> Config:
    return parse_config_text(HEAD + body + "\n", "gw.yaml", env={})


REFUSED = [
    (
        "api: {listen: '127.0.0.1:99999'}",
        "api.listen: port 99999 is out of range: ports are 1 to 65535",
    ),
    ("api: {listen: '[::1]:0'}", "api.listen: port 0 is out of range: ports are 1 to 65535"),
    (
        "mqtt: {keepalive: 65536s}",
        "mqtt.keepalive: '65536s' is out of range: write 1s to 65535s "
        "(MQTT counts it in whole seconds, 1 to 65535)",
    ),
    ("mqtt: {keepalive: 500ms}", "mqtt.keepalive: '500ms' is out of range: write 1s to 65535s"),
    ("mqtt: {host: ''}", "mqtt.host: must not be empty"),
    (
        "influxdb: {flush_interval: 0ms}",
        "influxdb.flush_interval: '0ms' is out of range: write 1ms to 1m "
        "(the longest a point waits for its batch)",
    ),
    (
        "influxdb: {timeout: 1000000h}",
        "influxdb.timeout: '1000000h' is out of range: write 10ms to 10m "
        "(the longest one request may take)",
    ),
    (
        "influxdb: {url: 'http://127.0.0.1:99999'}",
        "influxdb.url: the port of 'http://127.0.0.1:99999' is out of range: ports are 1 to "
        "65535 (InfluxDB listens on 8086)",
    ),
    (
        "influxdb: {url: '127.0.0.1:8086'}",
        "influxdb.url: '127.0.0.1:8086' is not an InfluxDB URL; write http://HOST:PORT "
        "(or https://)",
    ),
    (
        "buffer: {max_size: 10KB}",
        "buffer.max_size: '10KB' is out of range: write 1MB to 1TB (the disk the buffer may use)",
    ),
    ("buffer: {max_size: 2TB}", "buffer.max_size: '2TB' is out of range: write 1MB to 1TB"),
    (
        _modbus("interval: 0ms"),
        "devices[0].interval: '0ms' is out of range: write 10ms to 24h "
        "(a device is polled at most every 10 ms, at least daily)",
    ),
    (_modbus("interval: 0.5ms"), "devices[0].interval: '0.5ms' is out of range"),
    (_modbus("interval: 25h"), "devices[0].interval: '25h' is out of range"),
    (
        _modbus("timeout: 1000000h"),
        "devices[0].timeout: '1000000h' is out of range: write 10ms to 10m",
    ),
    (
        _modbus("interval: " + "9" * 400 + "h"),
        "devices[0].interval: '" + "9" * 400 + "h' is out of range",
    ),
    (
        _modbus(signal=SIGNAL + ", heartbeat: 0s"),
        "devices[0].signals[0].heartbeat: '0s' is out of range: write 10ms to 24h",
    ),
    (
        _modbus(signal=SIGNAL + ", scale: .nan"),
        "devices[0].signals[0].scale: expected a finite number, got nan",
    ),
    (
        _modbus(signal=SIGNAL + ", offset: .inf"),
        "devices[0].signals[0].offset: expected a finite number, got inf",
    ),
    (
        _modbus(signal=SIGNAL + ", deadband: .inf"),
        "devices[0].signals[0].deadband: expected a finite number, got inf",
    ),
    (
        "devices: [{id: o, protocol: opcua, endpoint: 'opc.tcp://10.0.0.6:70000'}]",
        "devices[0].endpoint: port 70000 is out of range: ports are 1 to 65535",
    ),
    (
        "devices: [{id: o, protocol: opcua, endpoint: 'opc.tcp://:4840'}]",
        "devices[0].endpoint: 'opc.tcp://:4840' names no host; write opc.tcp://HOST:PORT",
    ),
]


@pytest.mark.parametrize(("body", "expected"), REFUSED)
def test_out_of_range_is_refused_with_the_range(body: str, expected: str) -> None:
    issues = _issues(body)
    assert len(issues) == 1, issues
    assert issues[0].startswith(expected)


def test_bounds_are_accepted() -> None:
    config = _load(
        "api: {listen: '[::1]:65535'}\n"
        "mqtt: {port: 1, keepalive: 65535s}\n"
        "influxdb: {url: 'https://[::1]:1', flush_interval: 1ms, timeout: 10m}\n"
        "buffer: {max_size: 1MB}\n"
        + _modbus("interval: 10ms, timeout: 10ms", SIGNAL + ", heartbeat: 24h, deadband: 0")
        + "\n"
    )
    device = config.devices[0]
    assert (device.interval, device.timeout, device.signals[0].heartbeat) == (0.01, 0.01, 86400)
    assert (config.mqtt.keepalive, config.influxdb.flush_interval) == (65535, 0.001)
    assert config.buffer.max_size == 1_000_000
    other = _load(
        "influxdb: {url: 'http://influx.local'}\n"
        + _modbus("interval: 24h, timeout: 10ms").replace("}]}]", "}]}, ")
        + "{id: o, protocol: opcua, endpoint: 'opc.tcp://h/path'}]\n"
    )
    assert other.devices[0].interval == 86400


def test_every_number_field_has_a_range() -> None:
    """A new numeric field without bounds fails here: give it its real range."""
    unbounded = []
    for model in _models(Config):
        for name, field in model.model_fields.items():
            kinds = {arg for arg in _flatten(field.annotation) if arg in (int, float)}
            limits = ("ge", "gt", "le", "lt", "allow_inf_nan")
            bounded = any(hasattr(meta, attr) for meta in field.metadata for attr in limits)
            ranged = any("_between" in repr(meta) for meta in field.metadata)
            if kinds and not (bounded or ranged):
                unbounded.append(f"{model.__name__}.{name}")
    assert unbounded == []


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """`root` and every model reachable through its fields."""
    seen: list[type[BaseModel]] = []
    todo = [root]
    while todo:
        model = todo.pop()
        if model not in seen:
            seen.append(model)
            for field in model.model_fields.values():
                todo += [
                    arg
                    for arg in _flatten(field.annotation)
                    if isinstance(arg, type) and issubclass(arg, BaseModel)
                ]
    return seen


def _flatten(tp: object) -> list[object]:
    """`tp` and every type argument inside it (unions, lists, Annotated), Literals left out."""
    if typing.get_origin(tp) is typing.Literal:
        return []
    out: list[object] = [tp]
    for arg in typing.get_args(tp):
        out += _flatten(arg)
    return out


def test_nan_never_reaches_a_model() -> None:
    assert math.isfinite(_load(_modbus(signal=SIGNAL + ", scale: 0.1")).devices[0].signals[0].scale)
