"""S7 and MC devices in the config: defaults, addresses checked by the adapters' pure parsers,
errors that name the field and its line, and profiles of one PLC family."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from gateway.config.issues import ConfigError, format_path
from gateway.config.loader import check_main, validate_data
from gateway.config.models import Config, McDevice, S7Device
from gateway.config.rules import plc_family, signal_kind
from tests.support.oee import site_oee

MC: dict[str, Any] = {"protocol": "mc", "port": 5007}


def config(*devices: dict[str, Any], **extra: Any) -> Config:
    return Config.model_validate(
        {"version": 1, "gateway": {"id": "gw"}, "devices": list(devices), **extra}
    )


def test_s7_device_defaults_and_signal_types() -> None:
    cfg = config(
        {
            "id": "press-3",
            "protocol": "s7",
            "host": "127.0.0.1",
            "signals": [
                {"name": "oil", "address": "DB1.DBD0", "type": "float32"},
                {"name": "pressure", "address": "DB1.DBW8", "scale": 0.1},
                {"name": "running", "address": "DB1.DBX10.0"},
                {"name": "b", "address": "MB3"},
                {"name": "recipe", "address": "DB2.DBB0", "type": "string", "length": 16},
            ],
        }
    )
    device = cfg.devices[0]
    assert isinstance(device, S7Device)
    assert (device.port, device.rack, device.slot, device.connection_type) == (102, 0, 1, "pg")
    assert [s.type for s in device.signals] == ["float32", "uint16", "bool", "uint8", "string"]
    assert device.link == "s7://127.0.0.1:102/0/1/pg"


def test_mc_device_defaults_and_signal_types() -> None:
    cfg = config(
        {
            "id": "welder-2",
            "protocol": "mc",
            "host": "127.0.0.1",
            "port": 5007,
            "signals": [
                {"name": "current", "address": "D100", "scale": 0.1},
                {"name": "welds", "address": "D200", "type": "uint32"},
                {"name": "door", "address": "X1A"},
                {"name": "flag", "address": "D5.F"},
            ],
        }
    )
    device = cfg.devices[0]
    assert isinstance(device, McDevice)
    assert (device.network, device.station, device.module_io, device.multidrop) == (
        0,
        0xFF,
        0x03FF,
        0,
    )
    assert [s.type for s in device.signals] == ["int16", "uint32", "bool", "bool"]


@pytest.mark.parametrize(
    ("device", "where", "needle"),
    [
        ({"protocol": "s7", "signals": [{"name": "a", "address": "DB1.DBW0", "type": "float32"}]},
         ("signals", 0, "address"), "needs a double word (D) address, as DB1.DBD0"),
        ({"protocol": "s7", "signals": [{"name": "a", "address": "DB1.DBD0"}]},
         ("signals", 0, "address"), "a double word needs a type"),
        ({"protocol": "s7", "signals": [{"name": "a", "address": "PIW256"}]},
         ("signals", 0, "address"), "peripheral addresses"),
        ({"protocol": "s7", "signals": [{"name": "a", "address": "DB1.DBX0.0", "scale": 2}]},
         ("signals", 0, "scale"), "scale applies to numbers"),
        ({**MC, "signals": [{"name": "a", "address": "D1A"}]},
         ("signals", 0, "address"), "D numbers are decimal"),
        ({**MC, "signals": [{"name": "a", "address": "M1", "type": "int16"}]},
         ("signals", 0, "address"), "M1 is a bit device"),
        ({**MC, "signals": [{"name": "a", "address": "D0", "type": "string"}]},
         ("signals", 0, "address"), "a string needs length"),
    ],
)  # fmt: skip
def test_a_malformed_address_is_named_at_its_field(
    device: dict[str, Any], where: tuple[Any, ...], needle: str
) -> None:
    data = {"version": 1, "gateway": {"id": "gw"}}
    data["devices"] = [{"id": "d", "host": "127.0.0.1", **device}]
    with pytest.raises(ConfigError) as info:
        validate_data(data)
    (issue,) = info.value.issues
    assert issue.path == format_path(("devices", 0, *where))
    assert needle in issue.message


def test_plc_family_tells_siemens_from_melsec_spellings() -> None:
    for address in ("DB1.DBW8", "%MW20", "M0.1", "MB3", "I0.3", "E0.3", "QW4", "A1.7"):
        assert plc_family(address) == "s7", address
    for address in ("D100", "M10", "X1A", "Y0", "B1F", "W10", "R5", "L3", "D5.F"):
        assert plc_family(address) == "mc", address
    assert signal_kind({"table": "holding", "address": 1}) == "modbus"
    assert signal_kind({"address": 3}) == "modbus"


def test_check_names_every_bad_plc_address_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(
        "version: 1\n"
        "gateway: {id: gw}\n"
        "profiles:\n"
        "  siemens:\n"
        "    signals:\n"
        "      - {name: x, address: DB1.DBW8}\n"
        "devices:\n"
        "  - id: press\n"
        "    protocol: s7\n"
        "    host: 127.0.0.1\n"
        "    signals:\n"
        "      - {name: a, address: DB1.DBX3}\n"
        "  - id: welder\n"
        "    protocol: mc\n"
        "    host: 127.0.0.1\n"
        "    port: 5007\n"
        "    profile: siemens\n"
        "    signals:\n"
        "      - {name: a, address: Q10}\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    assert check_main(path, out=out, env={}) == 1
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        f"{path}:12: devices[0].signals[0].address: 'DB1.DBX3': a bit address names the bit "
        "after the byte, as DB1.DBX3.0"
    )
    assert lines[1].startswith(f"{path}:17: devices[1].profile: profile 'siemens' has S7 signals")
    assert lines[2].startswith(f"{path}:19: devices[1].signals[0].address: 'Q10': 'Q' is not a")
    assert "expected a device letter (D, W, R, M, X, Y, B, L)" in lines[2]
    assert len(lines) == 3


def test_an_s7_profile_serves_s7_devices() -> None:
    cfg = config(
        {"id": "a", "protocol": "s7", "host": "127.0.0.1", "profile": "p"},
        profiles={"p": {"signals": [{"name": "x", "address": "DB1.DBW8", "type": "int16"}]}},
    )
    assert [(s.name, s.type) for s in cfg.devices[0].signals] == [("x", "int16")]


@pytest.mark.parametrize(
    ("device", "field", "needle"),
    [
        # A bit with no `type:` is a bool: `above` can never fire on it.
        ({"protocol": "s7", "signals": [{"name": "s", "address": "DB1.DBX2.0",
          "alarms": [{"name": "a", "above": 4}]}]}, "alarms", "equals: true"),
        ({**MC, "signals": [{"name": "s", "address": "M1",
          "alarms": [{"name": "a", "above": 4}]}]}, "alarms", "equals: true"),
        # Limits as for Modbus: only for writable numbers.
        ({"protocol": "s7", "signals": [{"name": "s", "address": "DB1.DBW0", "max": 5}]},
         "max", "add writable: true"),
        ({**MC, "signals": [{"name": "s", "address": "M1", "writable": True, "min": 0}]},
         "min", "limits numbers, not a bool"),
    ],
)  # fmt: skip
def test_alarm_and_write_limit_rules_hold_for_plc_signals(
    device: dict[str, Any], field: str, needle: str
) -> None:
    data = {"version": 1, "gateway": {"id": "gw"}}
    data["devices"] = [{"id": "d", "host": "127.0.0.1", **device}]
    with pytest.raises(ConfigError) as info:
        validate_data(data)
    messages = [f"{i.path}: {i.message}" for i in info.value.issues]
    assert any(field in m and needle in m for m in messages), messages


def test_s7_bytes_take_number_alarms_and_count_parts() -> None:
    signals = [
        {"name": "level", "address": "DB1.DBB0", "alarms": [{"name": "hi", "above": 200}]},
        {"name": "mode", "address": "DB1.DBB1", "alarms": [{"name": "m", "equals": 4}]},
        {"name": "parts", "address": "DB1.DBB2"},
        {"name": "mode_word", "address": "DB1.DBW4"},
    ]
    oee = {
        "state": {"signal": "mode_word", "running": [1]},
        "total_count": "parts",
        "ideal_cycle_time": "2s",
    }
    press = {"id": "p", "protocol": "s7", "host": "127.0.0.1", "signals": signals, "oee": oee}
    cfg = config(press, oee=site_oee())
    assert [s.type for s in cfg.devices[0].signals] == ["uint8", "uint8", "uint8", "uint16"]
