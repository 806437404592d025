"""The write settings of the config: `writable`, `min`/`max` and OPC UA `methods:`.

Nothing is writable by default; `gerbang check` refuses a write setting that cannot work, at
its line (SPEC "Writing to machines").
"""

from __future__ import annotations

import textwrap

import pytest

from gateway.config.loader import ConfigError, parse_config_text
from gateway.config.models import ModbusTcpDevice, OpcUaDevice

HEAD = "version: 1\ngateway:\n  id: gw\n"


def issues_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config_text(HEAD + textwrap.dedent(text), "gw.yaml", {})
    return [str(issue) for issue in caught.value.issues]


def test_nothing_is_writable_by_default_and_limits_parse() -> None:
    config = parse_config_text(
        HEAD
        + textwrap.dedent("""\
        mqtt: {commands: true}
        devices:
          - id: furnace-1
            protocol: modbus-tcp
            host: 127.0.0.1
            signals:
              - {name: temp, table: holding, address: 0, type: float32}
              - {name: temp_setpoint, table: holding, address: 50, type: float32,
                 writable: true, min: 20, max: 1600}
              - {name: counter_reset, table: coil, address: 7, writable: true}
          - id: roaster-1
            protocol: opcua
            endpoint: opc.tcp://127.0.0.1:4840
            signals:
              - {name: profile, node: "ns=2;s=Profile", writable: true}
            methods:
              - {name: start_batch, object: "ns=2;s=Roaster", method: "ns=2;s=StartBatch"}
        """),
        "gw.yaml",
        {},
    )
    furnace, roaster = config.devices
    assert isinstance(furnace, ModbusTcpDevice) and isinstance(roaster, OpcUaDevice)
    assert [(s.writable, s.min, s.max) for s in furnace.signals] == [
        (False, None, None),
        (True, 20, 1600),
        (True, None, None),
    ]
    assert config.mqtt.commands is True
    assert roaster.signals[0].writable is True
    assert [(m.name, m.method) for m in roaster.methods] == [("start_batch", "ns=2;s=StartBatch")]


def test_a_signal_that_cannot_be_written_is_refused_at_its_line() -> None:
    assert issues_of("""\
    devices:
      - id: d1
        protocol: modbus-tcp
        host: h
        signals:
          - {name: a, table: input, address: 1, writable: true}
          - {name: b, table: discrete, address: 1, writable: true}
          - {name: c, table: holding, address: 1, writable: true}
    """) == [
        "gw.yaml:9: devices[0].signals[0].writable: an input register is read-only in Modbus: "
        "only coil and holding signals can be written",
        "gw.yaml:10: devices[0].signals[1].writable: a discrete input is read-only in Modbus: "
        "only coil and holding signals can be written",
    ]


def test_limits_are_for_writable_numbers_and_min_is_not_above_max() -> None:
    assert issues_of("""\
    devices:
      - id: d1
        protocol: modbus-tcp
        host: h
        signals:
          - {name: a, table: coil, address: 1, writable: true, min: 0}
          - {name: b, table: holding, address: 2, type: string, length: 4, writable: true, max: 3}
          - {name: c, table: holding, address: 9, writable: true, min: 10, max: 5}
          - {name: d, table: holding, address: 10, min: 10}
          - {name: e, table: holding, address: 11, writable: true, min: 5, max: 5}
      - id: r1
        protocol: opcua
        endpoint: opc.tcp://127.0.0.1:4840
        signals:
          - {name: x, node: "ns=2;s=X", writable: true, min: 1, max: 0}
    """) == [
        "gw.yaml:9: devices[0].signals[0].min: min limits numbers, not a bool",
        "gw.yaml:10: devices[0].signals[1].max: max limits numbers, not a string",
        "gw.yaml:11: devices[0].signals[2].max: max 5 is below min 10",
        "gw.yaml:12: devices[0].signals[3].min: min limits writes: add writable: true, "
        "or remove min",
        "gw.yaml:18: devices[1].signals[0].max: max 0 is below min 1",
    ]


def test_methods_need_node_ids_and_unique_names() -> None:
    issues = issues_of("""\
    devices:
      - id: r1
        protocol: opcua
        endpoint: opc.tcp://127.0.0.1:4840
        methods:
          - {name: reset, object: "ns=2;s=Obj", method: "ns=2;s=Reset"}
          - {name: reset, object: "ns=2;s=Obj", method: "ns=2;s=Reset2"}
          - {name: go, object: "ns=2;s=Obj", method: "nonsense"}
    """)
    assert issues[0].startswith("gw.yaml:11: devices[0].methods[2].method: 'nonsense': not a node")
    issues = issues_of("""\
    devices:
      - id: r1
        protocol: opcua
        endpoint: opc.tcp://127.0.0.1:4840
        methods:
          - {name: reset, object: "ns=2;s=Obj", method: "ns=2;s=Reset"}
          - {name: reset, object: "ns=2;s=Obj", method: "ns=2;s=Reset2"}
    """)
    assert issues == ["gw.yaml:10: devices[0].methods[1].name: method reset is listed twice"]
