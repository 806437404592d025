"""Line protocol for the SPEC's InfluxDB schema: escaping, tags, field types and their stability."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config.models import GatewayIdentity
from gateway.model import BAD, GOOD, UNCERTAIN, Batch, Sample
from gateway.sinks.lineproto import LineEncoder, escape_key, string_field

IDENTITY = GatewayIdentity(id="casting-01", site="pasuruan", area="casting", line="line-1")


def encoder(**measurements: str) -> LineEncoder:
    return LineEncoder(IDENTITY, measurements or {"furnace-1": "furnace"})


def test_one_point_per_scan_with_sorted_tags_and_typed_fields() -> None:
    batch = Batch(
        "furnace-1",
        1795389160779,
        [
            Sample("melt_temp", 1452.3, GOOD, 1),
            Sample("parts", 10234, GOOD, 1),
            Sample("door_open", True, GOOD, 1),
            Sample("recipe", "PP-ABS", GOOD, 1),
            Sample("power_kw", None, BAD, 1, None, "timeout"),
            Sample("flow", 3.5, UNCERTAIN, 1),
        ],
    )
    assert encoder().line(batch) == (
        "furnace,area=casting,device=furnace-1,gateway=casting-01,line=line-1,site=pasuruan "
        'melt_temp=1452.3,parts=10234i,door_open=true,recipe="PP-ABS" 1795389160779',
        4,
    )


def test_a_scan_without_good_values_is_no_point() -> None:
    batch = Batch("furnace-1", 5, [Sample("x", None, BAD, 5, None, "timeout")])
    assert encoder().line(batch) is None


def test_empty_levels_are_left_out_and_the_default_measurement_is_machine() -> None:
    lines = LineEncoder(GatewayIdentity(id="gw"), {})
    point = lines.line(Batch("roaster-1", 7, [Sample("t", 1.0, GOOD, 7)]))
    assert point == ("machine,device=roaster-1,gateway=gw t=1.0 7", 1)


def test_field_types_never_change() -> None:
    lines = encoder()
    first = lines.line(Batch("furnace-1", 1, [Sample("t", 1.5, GOOD, 1), Sample("n", 4, GOOD, 1)]))
    assert first is not None and first[0].endswith(" t=1.5,n=4i 1")
    # An int in a float field is written as a float, an integral float in an int field as an int.
    later = lines.line(Batch("furnace-1", 2, [Sample("t", 2, GOOD, 2), Sample("n", 5.0, GOOD, 2)]))
    assert later is not None and later[0].endswith(" t=2.0,n=5i 2")
    # What cannot be converted is left out, counted, the rest written.
    mixed = lines.line(
        Batch("furnace-1", 3, [Sample("t", "hot", GOOD, 3), Sample("n", 6, GOOD, 3)])
    )
    assert mixed is not None and mixed[0].endswith(" n=6i 3") and mixed[1] == 1
    assert lines.conflicts == 1


def test_the_type_is_per_measurement_and_field_across_devices() -> None:
    lines = encoder(a="m", b="m")
    lines.line(Batch("a", 1, [Sample("v", 1.5, GOOD, 1)]))
    point = lines.line(Batch("b", 2, [Sample("v", 7, GOOD, 2)]))
    assert point is not None and point[0].endswith(" v=7.0 2")


def test_names_and_strings_are_escaped() -> None:
    lines = LineEncoder(GatewayIdentity(id="gw"), {"d": "my meas,x"})
    point = lines.line(Batch("d", 1, [Sample("a b", 'say "hi"\\', GOOD, 1)]))
    assert point == (r'my\ meas\,x,device=d,gateway=gw a\ b="say \"hi\"\\" 1', 1)


@given(st.text(min_size=1))
def test_escaped_keys_have_no_bare_separators(name: str) -> None:
    escaped = escape_key(name)
    assert "\n" not in escaped
    i = 0
    while i < len(escaped):
        if escaped[i] == "\\" and i + 1 < len(escaped) and escaped[i + 1] in ", =n":
            i += 2
            continue
        assert escaped[i] not in ", =", escaped
        i += 1


@given(st.text())
def test_string_fields_are_quoted_without_a_bare_quote_inside(value: str) -> None:
    field = string_field(value)
    assert field.startswith('"') and field.endswith('"') and "\n" not in field
    inner = field[1:-1]
    i = 0
    while i < len(inner):
        if inner[i] == "\\":
            assert i + 1 < len(inner) and inner[i + 1] in '"\\n'
            i += 2
            continue
        assert inner[i] != '"'
        i += 1


@pytest.mark.parametrize(
    ("mode", "field"),
    [("unsigned", "c=18446744073709551615u"), ("string", 'c="18446744073709551615"')],
)
def test_a_uint64_signal_is_written_as_influxdb_uint64_says(mode: str, field: str) -> None:
    encoder = LineEncoder(GatewayIdentity(id="g"), {}, frozenset({("d", "c")}), mode)
    small = encoder.line(Batch("d", 1, [Sample("c", 5, GOOD, 1)]))
    big = encoder.line(Batch("d", 2, [Sample("c", 2**64 - 1, GOOD, 2)]))
    assert small is not None and big is not None
    assert small[0].endswith(" " + field.replace("18446744073709551615", "5") + " 1")
    assert big[0].endswith(f" {field} 2")


def test_a_first_value_beyond_int64_is_not_rounded_into_a_float_field() -> None:
    encoder = LineEncoder(GatewayIdentity(id="g"), {})
    assert encoder.line(Batch("d", 1, [Sample("c", 2**64 - 1, GOOD, 1)])) is None
    point = encoder.line(Batch("d", 2, [Sample("c", 7, GOOD, 2)]))
    assert point is not None and point[0].endswith(" c=7i 2"), "the field stays integer"
