"""The config loader: a valid file parses; each mistake is reported at its line, all at once."""

from __future__ import annotations

import textwrap

import pytest

from gateway.config.loader import (
    ConfigError,
    ConfigIssue,
    parse_config_text,
    validate_data,
)
from gateway.config.models import ModbusRtuDevice, ModbusTcpDevice, OpcUaDevice

ENV = {"MQTT_PASSWORD": "rahasia", "INFLUX_TOKEN": "tok", "ROASTER_PASSWORD": "kopi"}

SPEC_EXAMPLE = """\
version: 1
gateway:
  id: casting-01
  site: pasuruan
  area: casting
  line: line-1
api:
  listen: 0.0.0.0:8080
  tokens:
    - {name: technician, sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
mqtt:
  enabled: true
  host: 127.0.0.1
  port: 1883
  username: gerbang
  password: ${MQTT_PASSWORD}
  tls: {ca_file: /etc/gerbang/ca.pem}
  qos: 1
  retain: true
  topic_prefix: factory
  mode: per_signal
influxdb:
  enabled: true
  url: http://127.0.0.1:8086
  api: v2
  org: pabrik
  bucket: telemetry
  token: ${INFLUX_TOKEN}
buffer:
  path: /var/lib/gerbang/buffer
  max_size: 1GB
profiles:
  loom-v2:
    signals:
      - {name: picks, table: input, address: 2, type: uint32, word_order: little}
      - {name: speed_ppm, table: input, address: 1, type: uint16}
devices:
  - id: loom-01
    protocol: modbus-tcp
    host: 192.168.1.70
    unit: 1
    profile: loom-v2
  - id: furnace-1
    protocol: modbus-tcp
    host: 192.168.1.50
    port: 502
    unit: 1
    interval: 1s
    timeout: 1s
    measurement: furnace
    signals:
      - {name: melt_temp, table: holding, address: 0, type: float32, unit: degC}
      - {name: power_kw, table: input, address: 10, type: uint16, scale: 0.1, unit: kW}
      - {name: parts_good, table: holding, address: 20, type: uint32, word_order: little}
      - {name: door_open, table: discrete, address: 3, type: bool}
      - {name: alarm_overheat, table: holding, address: 30, type: bool, bit: 4}
      - {name: recipe, table: holding, address: 40, type: string, length: 8}
  - id: boiler-2
    protocol: modbus-rtu
    serial_port: /dev/ttyUSB0
    baudrate: 9600
    parity: E
    stopbits: 1
    unit: 3
    interval: 2s
    signals:
      - {name: level, table: input, address: 0}
  - id: roaster-1
    protocol: opcua
    endpoint: opc.tcp://192.168.1.60:4840
    security: {policy: Basic256Sha256, mode: SignAndEncrypt, certificate: c.der, private_key: k.pem}
    username: operator
    password: ${ROASTER_PASSWORD}
    subscribe: true
    interval: 500ms
    signals:
      - {name: drum_temp, node: "nsu=urn:roaster;s=Drum.Temperature", unit: degC, deadband: 0.2}
"""

HEAD = "version: 1\ngateway:\n  id: gw\n"
"""Lines 1-3 of every small test file: what a valid config needs at the least."""


def issues_of(text: str, env: dict[str, str] | None = None) -> list[str]:
    """Each issue as `FILE:LINE: path: message` for the file `gw.yaml`."""
    with pytest.raises(ConfigError) as caught:
        parse_config_text(textwrap.dedent(text), "gw.yaml", env if env is not None else {})
    return [str(issue) for issue in caught.value.issues]


def test_the_spec_example_parses_with_its_variables_set() -> None:
    config = parse_config_text(SPEC_EXAMPLE, "gw.yaml", ENV)
    assert config.gateway.id == "casting-01"
    assert config.mqtt.password is not None
    assert config.mqtt.password.get_secret_value() == "rahasia"
    assert config.influxdb.token is not None
    assert config.influxdb.token.get_secret_value() == "tok"
    assert config.buffer.max_size == 1_000_000_000
    assert [type(d) for d in config.devices] == [
        ModbusTcpDevice,
        ModbusTcpDevice,
        ModbusRtuDevice,
        OpcUaDevice,
    ]
    furnace = config.devices[1]
    assert furnace.interval == 1.0
    assert [s.name for s in furnace.signals][-1] == "recipe"
    roaster = config.devices[3]
    assert roaster.interval == 0.5
    assert isinstance(roaster, OpcUaDevice)
    assert roaster.password is not None
    assert roaster.password.get_secret_value() == "kopi"


def test_a_profile_gives_its_signals_and_the_device_overrides_and_adds() -> None:
    config = parse_config_text(
        HEAD
        + textwrap.dedent("""\
        profiles:
          loom-v2:
            signals:
              - {name: picks, table: input, address: 2, type: uint32, word_order: little}
              - {name: speed_ppm, table: input, address: 1}
        devices:
          - {id: loom-01, protocol: modbus-tcp, host: h, profile: loom-v2}
          - id: loom-02
            protocol: modbus-tcp
            host: h
            profile: loom-v2
            signals:
              - {name: speed_ppm, table: input, address: 1, scale: 0.1}
              - {name: tension, table: input, address: 10}
        """),
        env={},
    )
    first, second = config.devices
    assert [(s.name, s.scale) for s in first.signals] == [("picks", 1.0), ("speed_ppm", 1.0)]
    assert [(s.name, s.scale) for s in second.signals] == [
        ("picks", 1.0),
        ("speed_ppm", 0.1),
        ("tension", 1.0),
    ]
    assert first.signals[0] is not second.signals[0]  # each device owns its signals
    assert len(config.profiles["loom-v2"].signals) == 2


def test_environment_variables_with_defaults_and_escapes() -> None:
    config = parse_config_text(
        HEAD
        + textwrap.dedent("""\
        mqtt:
          host: ${BROKER:-127.0.0.1}
          port: ${PORT}
          qos: ${QOS}
          retain: ${RETAIN}
          username: ${EMPTY:-anon}
          password: "$${NOT_A_VAR}-${PASS}"
        """),
        env={"PORT": "8883", "PASS": "p:#x", "EMPTY": "", "QOS": "2", "RETAIN": "false"},
    )
    assert config.mqtt.host == "127.0.0.1"
    assert config.mqtt.port == 8883
    assert config.mqtt.qos == 2
    assert config.mqtt.retain is False
    assert config.mqtt.username == "anon"
    assert config.mqtt.password is not None
    assert config.mqtt.password.get_secret_value() == "${NOT_A_VAR}-p:#x"


def test_an_unset_variable_is_an_error_at_its_line() -> None:
    text = HEAD + "mqtt:\n  port: ${MQTT_PORT}\n  password: ${MQTT_PASSWORD}\n"
    assert issues_of(text) == [
        "gw.yaml:5: mqtt.port: environment variable MQTT_PORT is not set "
        "(set it, or give a default: ${MQTT_PORT:-default})",
        "gw.yaml:6: mqtt.password: environment variable MQTT_PASSWORD is not set "
        "(set it, or give a default: ${MQTT_PASSWORD:-default})",
    ]


def test_an_unknown_key_suggests_the_closest() -> None:
    text = HEAD + textwrap.dedent("""\
    devices:
      - id: d1
        protocol: modbus-tcp
        host: h
        signals:
          - name: t
            table: holding
            adress: 3
    """)
    assert issues_of(text) == [
        # The typo explains the missing `address`: it alone is reported.
        "gw.yaml:11: devices[0].signals[0].adress: unknown key 'adress'; did you mean 'address'?",
    ]


def test_an_unknown_key_of_another_protocol_says_where_it_belongs() -> None:
    text = HEAD + textwrap.dedent("""\
    devices:
      - id: d1
        protocol: modbus-tcp
        host: h
        serial_port: /dev/ttyUSB0
    """)
    assert issues_of(text) == [
        "gw.yaml:8: devices[0].serial_port: unknown key 'serial_port': "
        "modbus-rtu devices have it, not modbus-tcp devices"
    ]


def test_a_wrong_choice_lists_the_choices_and_suggests_one() -> None:
    text = HEAD + textwrap.dedent("""\
    devices:
      - id: d1
        protocol: modbus-tcp
        host: h
        signals:
          - {name: t, table: holdings, address: 0}
      - {id: d2, protocol: modbus, host: h}
      - {id: d3, protocol: modbus-rtu, serial_port: /dev/ttyS0, parity: e}
    """)
    assert issues_of(text) == [
        "gw.yaml:9: devices[0].signals[0].table: 'holdings' is not one of "
        "coil, discrete, holding, input; did you mean 'holding'?",
        "gw.yaml:10: devices[1].protocol: 'modbus' is not one of "
        "modbus-tcp, modbus-rtu, opcua, s7, mc; did you mean 'modbus-tcp'?",
        "gw.yaml:11: devices[2].parity: 'e' is not one of N, E, O; did you mean 'E'?",
    ]


def test_missing_fields_are_reported_at_their_mapping() -> None:
    text = (
        "version: 1\ngateway:\n  site: x\n"
        "devices:\n  - id: d1\n    protocol: modbus-tcp\n  - id: d2\n"
    )
    assert issues_of(text) == [
        "gw.yaml:2: gateway.id: missing required field 'id'",
        "gw.yaml:5: devices[0].host: missing required field 'host'",
        "gw.yaml:7: devices[1].protocol: missing required field 'protocol' "
        "(modbus-tcp, modbus-rtu, opcua, s7, mc)",
    ]


def test_durations_sizes_and_numbers_explain_the_expected_form() -> None:
    text = HEAD + textwrap.dedent("""\
    buffer:
      max_size: 100
    mqtt:
      port: 70000
      keepalive: 30
    devices:
      - {id: Furnace 1, protocol: modbus-tcp, host: h, interval: 1 sec, unit: one}
    """)
    assert issues_of(text) == [
        "gw.yaml:5: buffer.max_size: '100' is out of range: write 1MB to 1TB "
        "(the disk the buffer may use)",
        "gw.yaml:7: mqtt.port: must be at most 65535, got 70000",
        "gw.yaml:8: mqtt.keepalive: '30' has no time unit; did you mean '30s' or '30ms'?",
        "gw.yaml:10: devices[0].id: 'Furnace 1' is not a valid id: use lowercase letters, "
        "digits, '-' and '_', starting with a letter or a digit (for example furnace-1)",
        "gw.yaml:10: devices[0].interval: '1 sec' is not a duration; write a number and a "
        "unit: ms, s, m or h (500ms, 1s, 2m)",
        "gw.yaml:10: devices[0].unit: expected a whole number, got 'one'",
    ]


def test_an_unsupported_version() -> None:
    assert issues_of("version: 2\ngateway: {id: gw}\n") == [
        "gw.yaml:1: version: version 2 is not supported: this gateway reads version: 1"
    ]


def test_signal_rules_name_their_field_and_all_are_reported() -> None:
    text = HEAD + textwrap.dedent("""\
    devices:
      - id: d1
        protocol: modbus-tcp
        host: h
        signals:
          - {name: a, table: coil, address: 0, type: uint16, bit: 3}
          - name: b
            table: holding
            address: 65535
            type: float32
            scale: 2
          - {name: c, table: holding, address: 0, type: string}
          - {name: d, table: holding, address: 1, type: bool, scale: 2, deadband: 1}
    """)
    assert issues_of(text) == [
        "gw.yaml:9: devices[0].signals[0].type: a coil holds one bit: type must be bool, "
        "not uint16",
        "gw.yaml:9: devices[0].signals[0].bit: bit picks a bit of a register; a coil is one "
        "bit already",
        "gw.yaml:12: devices[0].signals[1].address: float32 at address 65535 spans 2 "
        "registers, past the last address 65535",
        "gw.yaml:15: devices[0].signals[2].length: a string needs length: the number of "
        "registers it spans",
        "gw.yaml:16: devices[0].signals[3].scale: scale applies to numbers, not to a bool",
        "gw.yaml:16: devices[0].signals[3].deadband: deadband applies to numbers, not to a bool",
    ]


def test_file_wide_rules_are_reported_with_field_errors_in_one_run() -> None:
    text = HEAD + textwrap.dedent("""\
    mqtt:
      qos: 3
    profiles:
      loom-v2:
        signals:
          - {name: picks, table: input, address: 2}
    devices:
      - {id: d1, protocol: modbus-tcp, host: h, profile: loom-v3}
      - id: d1
        protocol: modbus-tcp
        host: h
        signals:
          - {name: x, table: input, address: 0}
          - {name: x, table: input, address: 1}
    """)
    assert issues_of(text) == [
        "gw.yaml:5: mqtt.qos: 3 is not one of 0, 1, 2",
        "gw.yaml:11: devices[0].profile: no profile 'loom-v3'; did you mean 'loom-v2'?",
        "gw.yaml:12: devices[1].id: device id 'd1' is used twice (first at devices[0])",
        "gw.yaml:17: devices[1].signals[1].name: signal name 'x' is used twice in device 'd1' "
        "(first at signals[0])",
    ]


def test_file_wide_rules_alone_are_reported_at_their_lines() -> None:
    text = HEAD + textwrap.dedent("""\
    devices:
      - {id: d1, protocol: modbus-tcp, host: h}
      - id: d1
        protocol: modbus-tcp
        host: h
    """)
    assert issues_of(text) == [
        "gw.yaml:6: devices[1].id: device id 'd1' is used twice (first at devices[0])"
    ]


def test_a_bad_profile_signal_is_reported_once_at_the_profile() -> None:
    text = HEAD + textwrap.dedent("""\
    profiles:
      loom-v2:
        signals:
          - {name: picks, table: input, address: 2}
          - {name: speed, table: inputs, address: 1}
    devices:
      - {id: loom-01, protocol: modbus-tcp, host: h, profile: loom-v2}
      - {id: loom-02, protocol: modbus-tcp, host: h, profile: loom-v2}
    """)
    assert issues_of(text) == [
        "gw.yaml:8: profiles.loom-v2.signals[1].table: 'inputs' is not one of "
        "coil, discrete, holding, input; did you mean 'input'?"
    ]


def test_a_profile_of_another_protocol_is_an_error_at_the_device_profile_line() -> None:
    text = HEAD + textwrap.dedent("""\
    profiles:
      roaster:
        signals:
          - {name: drum_temp, node: "ns=2;s=Drum"}
    devices:
      - id: d1
        protocol: modbus-tcp
        host: h
        profile: roaster
    """)
    assert issues_of(text) == [
        "gw.yaml:12: devices[0].profile: profile 'roaster' has OPC UA signals (node), but "
        "device 'd1' speaks modbus-tcp, which reads Modbus signals (table, address)"
    ]


def test_devices_on_one_serial_port_must_agree_on_its_settings() -> None:
    text = HEAD + textwrap.dedent("""\
    devices:
      - {id: boiler, protocol: modbus-rtu, serial_port: /dev/ttyUSB0, unit: 1, parity: E}
      - {id: grinder, protocol: modbus-rtu, serial_port: /dev/ttyUSB0, unit: 2}
    """)
    assert issues_of(text) == [
        "gw.yaml:6: devices[1].parity: parity N (the default) differs from E of device "
        "'boiler' (devices[0]) on the same port /dev/ttyUSB0; devices on one serial port "
        "share its settings"
    ]


def test_sink_and_security_rules_name_the_missing_field() -> None:
    text = HEAD + textwrap.dedent("""\
    mqtt:
      tls: {cert_file: c.pem}
    influxdb:
      enabled: true
      org: pabrik
    devices:
      - id: r1
        protocol: opcua
        endpoint: opc.tcp://h:4840
        security:
          policy: Basic256Sha256
          certificate: c.der
    """)
    assert issues_of(text) == [
        "gw.yaml:5: mqtt.tls.key_file: missing key_file: cert_file needs it (give both or neither)",
        "gw.yaml:6: influxdb.bucket: missing bucket: api v2 needs org and bucket",
        "gw.yaml:13: devices[0].security.mode: mode None does not fit policy Basic256Sha256: "
        "policy None goes with mode None, and a real policy with Sign or SignAndEncrypt",
        "gw.yaml:13: devices[0].security.private_key: missing private_key: "
        "policy Basic256Sha256 needs it",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "version: 1\ngateway:\n  id: a\n  id: b\n",
            'gw.yaml:4: found duplicate key "id" with value "b" (original value: "a")',
        ),
        (
            "version: 1\ngateway:\n\tid: a\n",
            "gw.yaml:3: found character '\\t' that cannot start any token; "
            "indent with spaces: YAML does not allow tabs",
        ),
        (
            "version: 1\ngateway:\n  id: a: b\n",
            "gw.yaml:3: mapping values are not allowed here; a value with ': ' in it needs quotes",
        ),
        (
            "",
            "gw.yaml:1: expected a mapping (version: 1, gateway:, devices: ...), got an empty file",
        ),
        ("- a\n", "gw.yaml:1: expected a mapping (version: 1, gateway:, devices: ...), got a list"),
    ],
)
def test_yaml_problems_have_a_line(text: str, expected: str) -> None:
    (issue,) = issues_of(text)
    assert issue.startswith(expected)


def test_yaml_anchors_and_merge_keys_share_device_fields() -> None:
    text = (
        "version: 1\n"
        "gateway: {id: g}\n"
        "devices:\n"
        "  - &loom {id: loom-01, protocol: modbus-tcp, host: 127.0.0.1, port: 5020, interval: 2s}\n"
        "  - <<: *loom\n"
        "    id: loom-02\n"
        "    unit: 2\n"
    )
    config = parse_config_text(text, "gw.yaml", {})
    second = config.devices[1]
    assert (second.id, second.unit, second.port, second.interval) == ("loom-02", 2, 5020, 2.0)


def test_validate_data_gives_the_same_messages_without_lines() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_data(
            {
                "version": 1,
                "gateway": {"id": "gw"},
                "devices": [{"id": "d", "protocol": "modbus-tcp", "hots": "h"}],
            }
        )
    assert [str(issue) for issue in caught.value.issues] == [
        "devices[0].hots: unknown key 'hots'; did you mean 'host'?",
    ]
    assert caught.value.issues[0] == ConfigIssue(
        None, None, "devices[0].hots", "unknown key 'hots'; did you mean 'host'?"
    )


def test_validate_data_accepts_valid_data() -> None:
    config = validate_data({"version": 1, "gateway": {"id": "gw"}})
    assert config.devices == []


@pytest.mark.parametrize(
    ("issue", "text"),
    [
        (ConfigIssue("a.yaml", 3, "mqtt.port", "bad"), "a.yaml:3: mqtt.port: bad"),
        (ConfigIssue("a.yaml", None, "", "no such file"), "a.yaml: no such file"),
        (ConfigIssue(None, 3, "x", "bad"), "line 3: x: bad"),
        (ConfigIssue(None, None, "x", "bad"), "x: bad"),
    ],
)
def test_issue_text(issue: ConfigIssue, text: str) -> None:
    assert str(issue) == text


def test_config_error_lists_every_issue_one_per_line() -> None:
    error = ConfigError([ConfigIssue("a", 1, "x", "m1"), ConfigIssue("a", 2, "y", "m2")])
    assert str(error) == "a:1: x: m1\na:2: y: m2"
