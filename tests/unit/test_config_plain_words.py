"""Config messages a technician can act on (issue 18): indentation in plain words, a typo of a
required key reported as the typo only, and Modbus signals that overlap refused by name."""

from __future__ import annotations

import textwrap

import pytest

from gateway.config.issues import ConfigError
from gateway.config.loader import parse_config_text

DEVICE = """\
version: 1
gateway:
  id: gw1
devices:
  - id: press-1
    protocol: modbus-tcp
    host: 127.0.0.1
    signals:
"""


def issues_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config_text(textwrap.dedent(text), "gw.yaml", {})
    return [str(issue) for issue in caught.value.issues]


def test_an_over_indented_key_is_called_indented_too_far() -> None:
    (issue,) = issues_of("version: 1\ngateway:\n  id: gw1\n    site: plant\n")
    assert issue.startswith("gw.yaml:4: 'site:' is indented further than 'id:'")
    assert "by 2 spaces, like 'id:'" in issue
    assert "mapping values" not in issue


def test_a_value_with_colon_space_still_gets_the_quotes_hint() -> None:
    (issue,) = issues_of("version: 1\ngateway:\n  id: a: b\n")
    assert issue.endswith("a value with ': ' in it needs quotes")


def test_a_dedented_line_says_what_it_does_not_line_up_with() -> None:
    (issue,) = issues_of("version: 1\ngateway:\n  id: gw1\n  site: plant\n area: x\n")
    assert issue == (
        "gw.yaml:5: this line is indented 1 space, which lines up with no key above it: "
        "'site:' is at 2 and 'gateway:' at 0; indent it by 2 to go with 'site:', or by 0 to go "
        "with 'gateway:'"
    )
    assert "<block" not in issue


def test_a_dedented_key_in_a_device_names_the_keys_around_it() -> None:
    (issue,) = issues_of(DEVICE.replace("    host:", "   host:"))
    assert "gw.yaml:7: this line is indented 3 spaces" in issue
    assert "'protocol:' is at 4" in issue


def test_a_misspelt_required_key_is_reported_as_the_typo_only() -> None:
    assert issues_of("version: 1\ngatway:\n  id: gw1\n") == [
        "gw.yaml:2: gatway: unknown key 'gatway'; did you mean 'gateway'?"
    ]


def test_a_missing_required_key_without_a_typo_is_still_reported() -> None:
    assert issues_of("version: 1\nmqtt:\n  host: x\n") == [
        "gw.yaml:1: gateway: missing required field 'gateway'"
    ]


def test_overlapping_registers_are_refused_with_both_names() -> None:
    text = DEVICE + (
        "      - {name: temp, table: holding, address: 0, type: float32}\n"
        "      - {name: raw, table: holding, address: 1, type: uint16}\n"
    )
    (issue,) = issues_of(text)
    assert issue.startswith("gw.yaml:10: devices[0].signals[1].address: 'raw' (uint16, holding 1)")
    assert "overlaps 'temp' (float32, holding 0-1)" in issue


@pytest.mark.parametrize(
    "second",
    [
        "{name: alarm, table: holding, address: 1, type: bool, bit: 3}",  # a bit of it
        "{name: as_int, table: holding, address: 0, type: int32}",  # the same registers
        "{name: raw, table: input, address: 1, type: uint16}",  # another table
        "{name: next, table: holding, address: 2, type: uint16}",  # right after it
    ],
)
def test_registers_read_on_purpose_two_ways_are_allowed(second: str) -> None:
    text = DEVICE + (
        f"      - {{name: temp, table: holding, address: 0, type: float32}}\n      - {second}\n"
    )
    config = parse_config_text(text, "gw.yaml", {})
    assert len(config.devices[0].signals) == 2


def test_a_device_signal_overlapping_its_profile_is_refused_where_it_is_written() -> None:
    text = (
        "version: 1\ngateway:\n  id: gw1\nprofiles:\n  p:\n    signals:\n"
        "      - {name: temp, table: holding, address: 0, type: float32}\n"
        "devices:\n  - id: press-1\n    protocol: modbus-tcp\n    host: 127.0.0.1\n"
        "    profile: p\n    signals:\n"
        "      - {name: raw, table: holding, address: 1, type: uint16}\n"
    )
    (issue,) = issues_of(text)
    assert issue.startswith("gw.yaml:14: devices[0].signals[0].address: 'raw'")
    assert "'temp' (float32, holding 0-1)" in issue
