"""The S7 read planner (PDU budget, gaps, splits, packing) and the big-endian codec."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.s7.address import S7Location, locate
from adapters.s7.codec import BlockDecoder, S7Field, encode_value
from adapters.s7.planner import (
    ReadRequest,
    max_payload,
    pack_items,
    plan_reads,
    request_bytes,
    response_bytes,
    split_failed,
)
from gateway.model import BAD, GOOD, Sample, Value
from tests.support.plc_values import NUMBERS, assert_decodes_back


def locs(*specs: tuple[str, str] | tuple[str, str, int]) -> list[S7Location]:
    return [locate(*spec) for spec in specs]


def spans(requests: list[ReadRequest]) -> list[tuple[str, int, int, int]]:
    return [(r.area, r.db, r.start, r.size) for r in requests]


def test_the_spec_press_reads_in_one_request_per_area() -> None:
    signals = locs(
        ("DB1.DBD0", "float32"),
        ("DB1.DBD4", "uint32"),
        ("DB1.DBW8", "int16"),
        ("DB1.DBX10.0", "bool"),
        ("MW20", "uint16"),
        ("I0.3", "bool"),
        ("DB2.DBB0", "string", 16),
    )
    assert spans(plan_reads(signals)) == [
        ("DB", 1, 0, 11),
        ("DB", 2, 0, 18),
        ("I", 0, 0, 1),
        ("M", 0, 20, 2),
    ]


def test_bits_of_one_byte_share_it() -> None:
    signals = locs(("M0.0", "bool"), ("M0.7", "bool"), ("M1.3", "bool"))
    [request] = plan_reads(signals)
    assert (request.start, request.size, request.members) == (0, 2, (0, 1, 2))


def test_data_blocks_and_areas_are_never_mixed() -> None:
    signals = locs(("DB1.DBW0", "int16"), ("DB2.DBW0", "int16"), ("MW0", "int16"), ("QW0", "int16"))
    assert len(plan_reads(signals)) == 4


def test_the_gap_limit() -> None:
    signals = locs(("DB1.DBW0", "int16"), ("DB1.DBW30", "int16"))
    assert spans(plan_reads(signals, max_gap=28)) == [("DB", 1, 0, 32)]
    assert spans(plan_reads(signals, max_gap=27)) == [("DB", 1, 0, 2), ("DB", 1, 30, 2)]


def test_the_pdu_budget_is_pdu_size_minus_18() -> None:
    assert max_payload(240) == 222
    signals = locs(*[("DB1.DBD" + str(4 * n), "float32") for n in range(100)])  # 400 bytes
    assert spans(plan_reads(signals, pdu_size=240)) == [("DB", 1, 0, 220), ("DB", 1, 220, 180)]
    assert spans(plan_reads(signals, pdu_size=480)) == [("DB", 1, 0, 400)]


def test_a_string_larger_than_one_read_is_refused_with_its_address() -> None:
    with pytest.raises(ValueError, match=r"DB2\.DBB0 spans 256 bytes.*\(222\)"):
        plan_reads(locs(("DB2.DBB0", "string", 254)), pdu_size=240)


def test_isolated_signals_are_read_alone_and_never_read_through() -> None:
    signals = locs(("DB1.DBW0", "int16"), ("DB1.DBW2", "int16"), ("DB1.DBW4", "int16"))
    assert spans(plan_reads(signals, isolate={1})) == [
        ("DB", 1, 0, 2),
        ("DB", 1, 2, 2),
        ("DB", 1, 4, 2),
    ]
    # A gap wide enough to read through the isolated signal still stops at it.
    assert len(plan_reads(signals, max_gap=100, isolate={1})) == 3
    assert spans(plan_reads(signals, max_gap=100, isolate={0})) == [
        ("DB", 1, 0, 2),
        ("DB", 1, 2, 4),
    ]


def test_a_failed_block_drops_its_gaps_then_splits_per_signal() -> None:
    signals = locs(("DB1.DBW0", "int16"), ("DB1.DBW2", "int16"), ("DB1.DBW10", "int16"))
    [block] = plan_reads(signals)
    runs = split_failed(block, signals)
    assert spans(runs) == [("DB", 1, 0, 4), ("DB", 1, 10, 2)]
    assert spans(split_failed(runs[0], signals)) == [("DB", 1, 0, 2), ("DB", 1, 2, 2)]
    assert split_failed(runs[1], signals) == [runs[1]]


def test_bits_of_one_byte_stay_together_when_split() -> None:
    signals = locs(("M0.0", "bool"), ("M0.1", "bool"), ("MB1", "uint8"))
    [block] = plan_reads(signals)
    assert spans(split_failed(block, signals)) == [("M", 0, 0, 1), ("M", 0, 1, 1)]


def test_items_pack_into_multi_variable_reads_within_the_pdu() -> None:
    reads = [ReadRequest("DB", n + 1, 0, 100, (n,)) for n in range(5)]
    packs = pack_items(reads, pdu_size=240)
    assert [len(p) for p in packs] == [2, 2, 1]
    assert all(response_bytes(p) <= 240 and request_bytes(len(p)) <= 240 for p in packs)
    small = [ReadRequest("DB", n + 1, 0, 1, (n,)) for n in range(45)]
    assert [len(p) for p in pack_items(small, pdu_size=960)] == [20, 20, 5]
    assert [len(p) for p in pack_items(small, pdu_size=240)] == [19, 19, 7]  # 12 + 12 x 19 = 240


def test_odd_items_are_padded_except_the_last() -> None:
    items = [ReadRequest("DB", 1, 0, 3, (0,)), ReadRequest("DB", 2, 0, 3, (1,))]
    assert response_bytes(items) == 14 + (4 + 3 + 1) + (4 + 3)


TYPES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
         "float32", "float64", "string"]  # fmt: skip
LETTER = {"bool": "X", "int8": "B", "uint8": "B", "int16": "W", "uint16": "W", "string": "B"}


@st.composite
def s7_locations(draw: st.DrawFn) -> S7Location:
    type_ = draw(st.sampled_from(TYPES))
    area = draw(st.sampled_from(["DB1.DB", "DB2.DB", "M", "I"]))
    byte = draw(st.integers(0, 600))
    letter = LETTER.get(type_, "D")
    bit = f".{draw(st.integers(0, 7))}" if letter == "X" else ""
    length = draw(st.integers(1, 60)) if type_ == "string" else None
    return locate(f"{area}{letter}{byte}{bit}", type_, length)


@given(
    st.lists(s7_locations(), max_size=40),
    st.sampled_from([240, 480, 960]),
    st.integers(0, 64),
)
def test_every_signal_is_read_exactly_once_within_the_budget(
    signals: list[S7Location], pdu_size: int, max_gap: int
) -> None:
    requests = plan_reads(signals, pdu_size=pdu_size, max_gap=max_gap)
    members = sorted(i for r in requests for i in r.members)
    assert members == list(range(len(signals)))
    for r in requests:
        assert r.size <= pdu_size - 18
        for i in r.members:
            loc = signals[i]
            assert loc.key == (r.area, r.db) and r.start <= loc.start and loc.end <= r.end
    for pack in pack_items(requests, pdu_size):
        assert response_bytes(pack) <= pdu_size and request_bytes(len(pack)) <= pdu_size


def decode_one(field: S7Field, data: bytes) -> Sample:
    out: list[Sample | None] = [None]
    BlockDecoder(field.location.start, len(data), [(0, field)]).decode(data, 1, out)
    assert out[0] is not None
    return out[0]


@pytest.mark.parametrize(
    ("address", "type_", "data", "value"),
    [
        ("DB1.DBW0", "int16", b"\xff\x38", -200),
        ("DB1.DBW0", "uint16", b"\xff\x38", 65336),
        ("DB1.DBD0", "int32", b"\xff\xff\xff\xfe", -2),
        ("DB1.DBD0", "uint32", b"\x00\x01\x00\x00", 65536),
        ("DB1.DBD0", "float32", b"\x42\xf6\xe9\x79", 123.456),  # not 123.45600128173828
        ("DB1.DBD0", "float64", b"\x40\x09\x21\xfb\x54\x44\x2d\x18", math.pi),
        ("DB1.DBD0", "int64", b"\xff" * 8, -1),
        ("MB0", "int8", b"\x80", -128),
        ("MB0", "uint8", b"\x80", 128),
        ("M0.7", "bool", b"\x80", True),
        ("M0.6", "bool", b"\x80", False),
    ],
)
def test_decoding_table(address: str, type_: str, data: bytes, value: Value) -> None:
    sample = decode_one(S7Field("x", locate(address, type_)), data)
    assert (sample.value, sample.quality) == (value, GOOD)


def test_s7_string_uses_its_actual_length() -> None:
    field = S7Field("recipe", locate("DB2.DBB0", "string", 8))
    assert decode_one(field, b"\x08\x05TEMPE\xff\xff\xff").value == "TEMPE"
    # A corrupt actual length never reads past the configured capacity.
    assert decode_one(field, b"\x08\xffTEMPE123").value == "TEMPE123"
    # A string never written (all zeros) is empty; a zero max length is bounded by the config.
    assert decode_one(field, b"\x00\x03abc\x00\x00\x00\x00\x00").value == "abc"


def test_scale_offset_and_non_finite_floats() -> None:
    field = S7Field("p", locate("DB1.DBW8", "int16"), scale=0.1, offset=-5.0, unit="bar")
    sample = decode_one(field, struct.pack(">h", 513))
    assert sample.value == pytest.approx(513 * 0.1 - 5.0) and sample.unit == "bar"
    nan = decode_one(S7Field("t", locate("DB1.DBD0", "float32")), struct.pack(">f", math.nan))
    assert (nan.value, nan.quality) == (None, BAD) and "not a finite number" in (nan.error or "")


def test_a_block_decodes_every_member_at_its_offset() -> None:
    signals = locs(("DB1.DBD0", "float32"), ("DB1.DBW8", "int16"), ("DB1.DBX10.1", "bool"))
    fields = [S7Field(f"s{n}", loc) for n, loc in enumerate(signals)]
    [request] = plan_reads(signals)
    data = struct.pack(">f4xhB", 1.5, -3, 0b10)
    out: list[Sample | None] = [None] * 3
    members = [(i, fields[i]) for i in request.members]
    BlockDecoder(request.start, request.size, members).decode(data, 7, out)
    assert [s.value for s in out if s] == [1.5, -3, True]
    with pytest.raises(ValueError, match="answered 10 bytes of 11"):
        BlockDecoder(request.start, request.size, members).decode(data[:10], 7, out)
    with pytest.raises(ValueError, match="lies outside"):
        BlockDecoder(4, 4, [(0, fields[0])])


@given(st.data())
def test_encode_then_decode_is_the_identity(data: st.DataObject) -> None:
    loc = data.draw(s7_locations())
    if loc.type == "bool":
        value: Value = data.draw(st.booleans())
    elif loc.type == "string":
        text = st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=loc.length)
        value = data.draw(text)
    else:
        value = data.draw(NUMBERS[loc.type])
    field = S7Field("x", loc)
    raw = encode_value(field, value)
    assert len(raw) == loc.size
    decoded = decode_one(field, raw).value
    assert_decodes_back(loc.type, decoded, value)


@pytest.mark.parametrize(
    ("kind", "raw", "scale", "decimals", "published"),
    [
        ("int16", struct.pack(">h", 513), 0.1, None, 51.3),  # not 51.300000000000004
        ("uint16", struct.pack(">H", 1453), 0.01, 1, 14.5),  # decimals: 1
        ("float32", struct.pack(">f", 1.1), 1.0, None, 1.1),  # not 1.100000023841858
        ("float32", struct.pack(">f", 21.456), 1.0, 1, 21.5),
    ],
)
def test_numbers_are_published_as_a_person_writes_them(
    kind: str, raw: bytes, scale: float, decimals: int | None, published: float
) -> None:
    address = "DB1.DBW0" if len(raw) == 2 else "DB1.DBD0"
    field = S7Field("t", locate(address, kind), scale=scale, decimals=decimals)
    assert repr(decode_one(field, raw).value) == repr(published)
