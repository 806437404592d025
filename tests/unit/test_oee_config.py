"""The OEE config: the SPEC example parses; every mistake is named at its line, all at once."""

from __future__ import annotations

import textwrap

import pytest

from gateway.config.loader import ConfigError, parse_config_text

HEAD = "version: 1\ngateway:\n  id: gw\n"

SITE = """\
oee:
  timezone: Asia/Jakarta
  shifts:
    - {name: pagi, start: "06:00", end: "14:00"}
    - {name: siang, start: "14:00", end: "22:00"}
    - {name: malam, start: "22:00", end: "06:00"}
  breaks:
    - {name: istirahat, start: "12:00", end: "12:30"}
    - {name: sahur, start: "03:00", end: "03:30"}
  publish_interval: 1m
  stop_reasons:
    - {code: no_material, en: No material, id: Bahan habis}
    - {code: breakdown, en: Breakdown, id: Mesin rusak}
"""

DEVICE = """\
devices:
  - id: press-1
    protocol: modbus-tcp
    host: 127.0.0.1
    signals:
      - {name: state, table: holding, address: 0, type: uint16}
      - {name: parts_total, table: holding, address: 1, type: uint32}
      - {name: parts_good, table: holding, address: 3, type: uint32}
      - {name: door, table: coil, address: 0}
      - {name: recipe, table: holding, address: 10, type: string, length: 4}
    oee:
      state: {signal: state, running: [3], planned: [1, 5]}
      total_count: parts_total
      good_count: parts_good
      ideal_cycle_time: 2.5s
      micro_stop: 30s
"""


def issues_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config_text(textwrap.dedent(text), "gw.yaml", {})
    return [str(issue) for issue in caught.value.issues]


def test_the_spec_example_parses() -> None:
    config = parse_config_text(HEAD + SITE + DEVICE, "gw.yaml", {})
    assert config.oee is not None
    assert config.oee.timezone == "Asia/Jakarta"
    assert [s.window().minutes for s in config.oee.shifts] == [480, 480, 480]
    assert config.oee.shifts[2].window().crosses_midnight
    assert config.oee.publish_interval == 60.0
    assert config.oee.stop_reasons[0].id == "Bahan habis"
    oee = config.devices[0].oee
    assert oee is not None and oee.state is not None
    assert oee.state.running == [3] and oee.state.planned == [1, 5]
    assert oee.ideal_cycle_time == 2.5 and oee.micro_stop == 30.0
    assert oee.counter_fields() == {"total_count": "parts_total", "good_count": "parts_good"}
    assert config.devices[0].model_dump()["oee"]["ideal_cycle_time"] == "2500ms"


def test_without_oee_nothing_changes() -> None:
    config = parse_config_text(HEAD, "gw.yaml", {})
    assert config.oee is None


def test_a_counter_from_a_profile_is_found() -> None:
    text = (
        HEAD
        + SITE
        + textwrap.dedent("""\
    profiles:
      press:
        signals:
          - {name: parts_good, table: holding, address: 3, type: uint32}
          - {name: parts_bad, table: holding, address: 5, type: uint16}
    devices:
      - id: press-1
        protocol: modbus-tcp
        host: 127.0.0.1
        profile: press
        oee: {good_count: parts_good, reject_count: parts_bad, ideal_cycle_time: 1s}
    """)
    )
    config = parse_config_text(text, "gw.yaml", {})
    assert config.devices[0].oee is not None
    assert config.devices[0].oee.state is None


def test_calendar_mistakes_name_their_lines() -> None:
    text = HEAD + textwrap.dedent("""\
    oee:
      timezone: Asia/Jakrta
      shifts:
        - {name: pagi, start: "06:00", end: "14:00"}
        - {name: siang, start: "13:00", end: "22:00"}
        - {name: malam, start: "21:00", end: "07:00"}
        - {name: pagi, start: "6:00", end: "25:00"}
      breaks:
        - {name: istirahat, start: "14:30", end: "14:00"}
      publish_interval: 0s
    """)
    assert issues_of(text) == [
        "gw.yaml:5: oee.timezone: unknown timezone 'Asia/Jakrta'; did you mean 'Asia/Jakarta'?",
        "gw.yaml:10: oee.shifts[3].start: '6:00' is not a time of day; write HH:MM, "
        "00:00 to 23:59 (06:00, 22:30)",
        "gw.yaml:10: oee.shifts[3].end: '25:00' is not a time of day; write HH:MM, "
        "00:00 to 24:00 (06:00, 22:30)",
        "gw.yaml:13: oee.publish_interval: '0s' is out of range: write 1s to 1h "
        "(how often each machine's figures are published)",
    ]


def test_overlapping_shifts_and_stray_breaks() -> None:
    text = HEAD + textwrap.dedent("""\
    oee:
      timezone: Asia/Makassar
      shifts:
        - {name: pagi, start: "06:00", end: "14:00"}
        - {name: siang, start: "13:00", end: "22:00"}
        - {name: malam, start: "21:00", end: "07:00"}
      breaks:
        - {name: istirahat, start: "13:30", end: "14:30"}
        - {name: makan, start: "05:00", end: "05:30"}
        - {name: makan2, start: "05:15", end: "05:45"}
    """)
    assert issues_of(text) == [
        "gw.yaml:8: oee.shifts[1].start: shift 'siang' (13:00-22:00) overlaps shift 'pagi' "
        "(06:00-14:00); one shift ends where the next begins",
        "gw.yaml:9: oee.shifts[2].start: shift 'malam' (21:00-07:00) overlaps shift 'pagi' "
        "(06:00-14:00); one shift ends where the next begins",
        "gw.yaml:9: oee.shifts[2].start: shift 'malam' (21:00-07:00) overlaps shift 'siang' "
        "(13:00-22:00); one shift ends where the next begins",
        "gw.yaml:13: oee.breaks[2].start: break 'makan2' overlaps 'makan'",
    ]


def test_an_empty_shift_and_a_reused_name() -> None:
    text = HEAD + textwrap.dedent("""\
    oee:
      timezone: UTC
      shifts:
        - {name: pagi, start: "06:00", end: "14:00"}
        - {name: pagi, start: "14:00", end: "22:00"}
        - {name: malam, start: "22:00", end: "22:00"}
    """)
    assert issues_of(text) == [
        "gw.yaml:9: oee.shifts[2].end: end 22:00 equals start 22:00: the window is empty",
    ]
    text = text.replace('start: "22:00", end: "22:00"', 'start: "23:00", end: "05:00"')
    text += '  breaks:\n    - {name: istirahat, start: "22:30", end: "23:30"}\n'
    assert issues_of(text) == [
        "gw.yaml:8: oee.shifts[1].name: shift name 'pagi' is used twice",
        "gw.yaml:11: oee.breaks[0].start: break 'istirahat' (22:30-23:30) is not inside one shift",
    ]


def test_a_shift_crossing_midnight_and_a_whole_day() -> None:
    text = HEAD + textwrap.dedent("""\
    oee:
      timezone: Asia/Jayapura
      shifts:
        - {name: hari, start: "00:00", end: "24:00"}
      breaks:
        - {name: malam, start: "23:30", end: "00:00"}
    """)
    config = parse_config_text(text, "gw.yaml", {})
    assert config.oee is not None and config.oee.shifts[0].window().minutes == 1440


def test_device_mistakes_name_their_lines() -> None:
    text = HEAD + textwrap.dedent("""\
    devices:
      - id: press-1
        protocol: modbus-tcp
        host: 127.0.0.1
        signals:
          - {name: state, table: holding, address: 0, type: uint16}
          - {name: door, table: coil, address: 0}
          - {name: recipe, table: holding, address: 10, type: string, length: 4}
        oee:
          state: {signal: stat, running: [3], planned: [3]}
          total_count: door
          good_count: recipe
          ideal_cycle_time: 2.5
      - id: press-2
        protocol: modbus-tcp
        host: 127.0.0.1
        signals:
          - {name: parts, table: holding, address: 0, type: uint16}
        oee:
          total_count: part
          reject_count: parts
          ideal_cycle_time: 1s
    """)
    assert issues_of(text) == [
        "gw.yaml:13: devices[0].oee.state.planned: 3 is listed in both running and planned",
        "gw.yaml:16: devices[0].oee.ideal_cycle_time: '2.5' has no time unit; "
        "did you mean '2.5s' or '2.5ms'?",
        "gw.yaml:24: devices[1].oee.reject_count: give total_count (and good_count), or "
        "good_count and reject_count, not total_count and reject_count",
    ]


def test_device_references_name_their_lines() -> None:
    text = HEAD + textwrap.dedent("""\
    devices:
      - id: press-1
        protocol: modbus-tcp
        host: 127.0.0.1
        signals:
          - {name: state, table: holding, address: 0, type: uint16}
          - {name: door, table: coil, address: 0}
          - {name: recipe, table: holding, address: 10, type: string, length: 4}
        oee:
          state: {signal: stat, running: [3]}
          total_count: door
          good_count: recipe
          ideal_cycle_time: 2.5s
      - id: press-2
        protocol: modbus-tcp
        host: 127.0.0.1
        signals:
          - {name: parts, table: holding, address: 0, type: uint16}
        oee:
          total_count: part
          ideal_cycle_time: 1s
    """)
    assert issues_of(text) == [
        "gw.yaml:12: devices[0].oee: a device oee block needs the site oee block "
        "(timezone and shifts)",
        "gw.yaml:13: devices[0].oee.state.signal: device 'press-1' has no signal 'stat'; "
        "did you mean 'state'?",
        "gw.yaml:14: devices[0].oee.total_count: signal 'door' is a bool, not a number: a "
        "counter is a cumulative numeric signal (uint16, uint32, ...)",
        "gw.yaml:15: devices[0].oee.good_count: signal 'recipe' is a string, not a number: a "
        "counter is a cumulative numeric signal (uint16, uint32, ...)",
        "gw.yaml:22: devices[1].oee: a device oee block needs the site oee block "
        "(timezone and shifts)",
        "gw.yaml:23: devices[1].oee.total_count: device 'press-2' has no signal 'part'; "
        "did you mean 'parts'?",
    ]


def test_missing_counters() -> None:
    text = (
        HEAD
        + SITE
        + textwrap.dedent("""\
    devices:
      - id: press-3
        protocol: modbus-tcp
        host: 127.0.0.1
        oee: {good_count: a, ideal_cycle_time: 1s}
    """)
    )
    assert issues_of(text) == [
        "gw.yaml:21: devices[0].oee.reject_count: missing reject_count: give total_count, "
        "or good_count and reject_count",
    ]
