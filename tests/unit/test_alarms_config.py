"""The `alarms:` of a signal: what is accepted, and every refusal at its own field and line."""

from __future__ import annotations

import textwrap

import pytest

from gateway.config.loader import ConfigError, parse_config_text, validate_data
from gateway.config.models import Config

HEAD = "version: 1\ngateway:\n  id: gw\n"


def config_of(text: str) -> Config:
    return parse_config_text(HEAD + textwrap.dedent(text), "gw.yaml", {})


def issues_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config_of(text)
    return [str(issue) for issue in caught.value.issues]


def test_the_spec_alarms_parse_with_their_defaults() -> None:
    config = config_of("""\
    devices:
      - id: furnace-1
        protocol: modbus-tcp
        host: h
        signals:
          - name: melt_temp
            table: holding
            address: 0
            type: float32
            alarms:
              - {name: too_hot, above: 1550, clear_below: 1530, delay: 10s, severity: high,
                 message: {en: Melt too hot, id: Lelehan terlalu panas}}
              - {name: too_cold, below: 1200}
          - {name: door_open, table: discrete, address: 3, alarms: [{name: door, equals: true}]}
          - {name: state, table: holding, address: 9, alarms: [{name: fault, equals: 4}]}
          - {name: recipe, table: holding, address: 40, type: string, length: 8,
             alarms: [{name: no_recipe, equals: ""}]}
    """)
    signals = config.devices[0].signals
    hot, cold = signals[0].alarms
    assert (hot.above, hot.clear_limit, hot.delay, hot.severity) == (1550, 1530, 10.0, "high")
    assert hot.message is not None and hot.message.id == "Lelehan terlalu panas"
    assert (cold.below, cold.clear_limit, cold.delay, cold.severity) == (1200, 1200, 0.0, "medium")
    assert signals[1].alarms[0].equals is True
    assert signals[2].alarms[0].equals == 4 and signals[2].alarms[0].clear_limit is None
    assert signals[3].alarms[0].equals == ""


def test_a_clear_limit_on_its_trip_limit_is_accepted() -> None:
    config = config_of("""\
    devices:
      - id: d
        protocol: modbus-tcp
        host: h
        signals:
          - {name: p, table: input, address: 0, alarms: [{name: hi, above: 5, clear_below: 5},
                                                         {name: lo, below: 1, clear_above: 1}]}
    """)
    assert [rule.clear_limit for rule in config.devices[0].signals[0].alarms] == [5, 1]


def test_every_broken_alarm_rule_is_reported_at_its_field_and_line() -> None:
    assert issues_of("""\
    devices:
      - id: d1
        protocol: modbus-tcp
        host: h
        signals:
          - {name: a, table: holding, address: 1, type: float32,
             alarms: [{name: hot, above: 1550, clear_below: 1560}]}
          - {name: b, table: coil, address: 0, alarms: [{name: door, equals: 1},
                                                        {name: door, above: 1}]}
          - {name: c, table: holding, address: 5, alarms: [{name: offline, below: 3,
                                                             clear_above: 2}]}
          - {name: e, table: holding, address: 6, type: float32, alarms: [{name: x, equals: 3}]}
          - {name: f, table: holding, address: 8, alarms: [{name: y, above: 1, below: 0},
                                                           {name: z}, {name: w, equals: 2,
                                                           clear_below: 1}]}
          - {name: g, table: holding, address: 9, scale: 0.1, alarms: [{name: v, equals: 2}]}
          - {name: s, table: holding, address: 10, type: string, length: 2,
             alarms: [{name: u, above: 2}, {name: t, equals: 7}]}
    """) == [
        "gw.yaml:10: devices[0].signals[0].alarms[0].clear_below: clear_below 1560 is above the "
        "trip limit above: 1550: the alarm would clear while it is still too high; write "
        "clear_below at most 1550",
        "gw.yaml:11: devices[0].signals[1].alarms[0].equals: the signal is a bool: write "
        "equals: true or equals: false, not 1",
        "gw.yaml:12: devices[0].signals[1].alarms[1].name: alarm name 'door' is used twice on "
        "signal 'b' (first at alarms[0])",
        "gw.yaml:12: devices[0].signals[1].alarms[1].above: above compares numbers, but signal "
        "'b' is a bool; write equals: true (or false)",
        "gw.yaml:13: devices[0].signals[2].alarms[0].name: the name 'offline' is reserved: the "
        "gateway raises it itself when a device stops answering; choose another name",
        "gw.yaml:14: devices[0].signals[2].alarms[0].clear_above: clear_above 2 is below the "
        "trip limit below: 3: the alarm would clear while it is still too low; write "
        "clear_above at least 3",
        "gw.yaml:15: devices[0].signals[3].alarms[0].equals: equals compares exactly, which a "
        "measured value (a float32) rarely is; use above or below with a limit",
        "gw.yaml:16: devices[0].signals[4].alarms[0].below: an alarm has one condition, but "
        "this one has above and below; write a second alarm for the other limit",
        "gw.yaml:17: devices[0].signals[4].alarms[1]: an alarm needs a condition: above: "
        "LIMIT, below: LIMIT or equals: VALUE",
        "gw.yaml:18: devices[0].signals[4].alarms[2].clear_below: clear_below goes with above "
        "(the alarm trips above a limit and clears below another); an equals alarm clears "
        "when the value is no longer equal",
        "gw.yaml:19: devices[0].signals[5].alarms[0].equals: equals compares exactly, which a "
        "measured value (a scaled number) rarely is; use above or below with a limit",
        "gw.yaml:21: devices[0].signals[6].alarms[0].above: above compares numbers, but signal "
        "'s' is a string; write equals: 'TEXT'",
        "gw.yaml:21: devices[0].signals[6].alarms[1].equals: the signal is a string: write the "
        "text in quotes, equals: '7'",
    ]


def test_field_errors_of_an_alarm_teach_the_expected_form() -> None:
    assert issues_of("""\
    devices:
      - id: d1
        protocol: modbus-tcp
        host: h
        signals:
          - {name: a, table: holding, address: 1, alarms: [{name: x, above: 1, severty: high}]}
          - {name: b, table: holding, address: 2, alarms: [{name: y, above: 1, delay: 5}]}
          - {name: c, table: holding, address: 3, alarms: [{name: z, above: 1, severity: urgent}]}
    """) == [
        "gw.yaml:9: devices[0].signals[0].alarms[0].severty: unknown key 'severty'; did you "
        "mean 'severity'?",
        "gw.yaml:10: devices[0].signals[1].alarms[0].delay: '5' has no time unit; did you mean "
        "'5s' or '5ms'?",
        "gw.yaml:11: devices[0].signals[2].alarms[0].severity: 'urgent' is not one of low, "
        "medium, high",
    ]


def test_alarm_names_are_unique_on_a_device_its_profile_included() -> None:
    assert issues_of("""\
    profiles:
      p:
        signals:
          - {name: t, table: holding, address: 0, alarms: [{name: hot, above: 10}]}
          - {name: u, table: holding, address: 1, alarms: [{name: hot, above: 10}]}
    devices:
      - id: d1
        protocol: modbus-tcp
        host: h
        profile: p
        signals:
          - {name: a, table: holding, address: 2, alarms: [{name: hot, above: 1}]}
          - {name: b, table: holding, address: 3, alarms: [{name: cold, below: 1}]}
          - {name: c, table: holding, address: 4, alarms: [{name: cold, below: 2}]}
    """) == [
        "gw.yaml:8: profiles.p.signals[1].alarms[0].name: alarm name 'hot' is used twice on "
        "profile 'p' (first on signal 't' at profiles.p.signals[0].alarms[0].name); its topic "
        "$alarms/hot must name one alarm",
        "gw.yaml:15: devices[0].signals[0].alarms[0].name: alarm name 'hot' is used twice on "
        "device 'd1' (first on signal 't' at profiles.p.signals[0].alarms[0].name); its topic "
        "$alarms/hot must name one alarm",
        "gw.yaml:17: devices[0].signals[2].alarms[0].name: alarm name 'cold' is used twice on "
        "device 'd1' (first on signal 'b' at devices[0].signals[1].alarms[0].name); its topic "
        "$alarms/cold must name one alarm",
    ]


def test_a_device_signal_replacing_a_profile_signal_replaces_its_alarms() -> None:
    config = config_of("""\
    profiles:
      p:
        signals:
          - {name: t, table: holding, address: 0, alarms: [{name: hot, above: 10}]}
    devices:
      - id: d1
        protocol: modbus-tcp
        host: h
        profile: p
        signals:
          - {name: t, table: holding, address: 0, alarms: [{name: hot, above: 20}]}
    """)
    assert [rule.above for s in config.devices[0].signals for rule in s.alarms] == [20]


def test_opc_ua_signals_take_any_condition_their_server_decides_the_type() -> None:
    config = config_of("""\
    devices:
      - id: r
        protocol: opcua
        endpoint: opc.tcp://127.0.0.1:4840
        signals:
          - {name: t, node: "ns=2;s=T", alarms: [{name: hot, above: 250}]}
          - {name: s, node: "ns=2;s=S", alarms: [{name: fault, equals: FAULT}]}
    """)
    assert [s.alarms[0].name for s in config.devices[0].signals] == ["hot", "fault"]


def test_the_api_gets_the_same_messages_without_lines() -> None:
    data = {
        "version": 1,
        "gateway": {"id": "gw"},
        "devices": [
            {
                "id": "d",
                "protocol": "modbus-tcp",
                "host": "h",
                "signals": [
                    {
                        "name": "p",
                        "table": "input",
                        "address": 0,
                        "alarms": [{"name": "lo", "below": 2, "clear_above": 1}],
                    }
                ],
            }
        ],
    }
    with pytest.raises(ConfigError) as caught:
        validate_data(data)
    assert [str(issue) for issue in caught.value.issues] == [
        "devices[0].signals[0].alarms[0].clear_above: clear_above 1 is below the trip limit "
        "below: 2: the alarm would clear while it is still too low; write clear_above at least 2"
    ]
