"""MC protocol / SLMP 3E binary frames, MELSEC addresses, the word-unit planner and codec."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.mc.address import McAddress, McAddressError, McLocation, locate, parse_address
from adapters.mc.codec import BlockDecoder, McField, encode_value
from adapters.mc.errors import EndCodeError, FrameError
from adapters.mc.frame import (
    BATCH_READ,
    BATCH_WRITE,
    BIT_UNITS,
    WORD_UNITS,
    build_read,
    build_response,
    build_write,
    decode_bits,
    decode_words,
    encode_bits,
    parse_request,
    parse_response,
    response_length,
)
from adapters.mc.planner import ReadRequest, plan_reads, split_failed
from gateway.model import BAD, Sample, Value
from tests.support.plc_values import NUMBERS, assert_decodes_back

# --- frames: byte tables from the MC protocol reference (batch read D100, 3 points, timer
# 0x0010, is the manual's own example) and cross-checked against pymcprotocol's encoder.


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            build_read("D", 100, 3, timer=0x10),
            "50 00 00 ff ff 03 00 0c 00 10 00 01 04 00 00 64 00 00 a8 03 00",
        ),
        (
            build_read("X", 0x1A, 16),
            "50 00 00 ff ff 03 00 0c 00 04 00 01 04 00 00 1a 00 00 9c 10 00",
        ),
        (
            build_read("M", 100, 8, bits=True),
            "50 00 00 ff ff 03 00 0c 00 04 00 01 04 01 00 64 00 00 90 08 00",
        ),
        (build_read("R", 0, 960), "50 00 00 ff ff 03 00 0c 00 04 00 01 04 00 00 00 00 00 af c0 03"),
        (
            build_write("D", 200, [0x1234, -1]),
            "50 00 00 ff ff 03 00 10 00 04 00 01 14 00 00 c8 00 00 a8 02 00 34 12 ff ff",
        ),
        (
            build_write("M", 100, [True, False, True, True, False], bits=True),
            "50 00 00 ff ff 03 00 0f 00 04 00 01 14 01 00 64 00 00 90 05 00 10 11 00",
        ),
    ],
)
def test_request_frames(frame: bytes, expected: str) -> None:
    assert frame.hex(" ") == expected


@pytest.mark.parametrize(
    ("device", "code"),
    [("D", 0xA8), ("W", 0xB4), ("R", 0xAF), ("M", 0x90), ("X", 0x9C), ("Y", 0x9D), ("B", 0xA0),
     ("L", 0x92)],
)  # fmt: skip
def test_device_codes(device: str, code: int) -> None:
    assert build_read(device, 0, 1)[18] == code


def test_request_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="1-960"):
        build_read("D", 0, 961)
    with pytest.raises(ValueError, match="1-7168"):
        build_read("M", 0, 7169, bits=True)
    with pytest.raises(ValueError, match="word device"):
        build_read("D", 0, 1, bits=True)
    with pytest.raises(ValueError, match="3 bytes"):
        build_read("D", 1 << 24, 1)


def test_a_response_yields_its_data() -> None:
    frame = bytes.fromhex("d0 00 00 ff ff 03 00 08 00 00 00 34 12 02 00 ef 1d")
    assert response_length(frame[:9]) == 8
    assert decode_words(parse_response(frame)) == (0x1234, 0x0002, 0x1DEF)


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (0xC056, "address out of range"),
        (0xC059, "command error"),
        (0xC05C, "wrong request"),
        (0xC061, "length error"),
        (0xC051, "too many bit points"),
        (0xCAFE, "error (end code 0xCAFE)"),
    ],
)
def test_end_codes_are_rendered_for_a_technician(code: int, text: str) -> None:
    frame = build_response(end_code=code)
    assert len(frame) == 9 + 2 + 9  # the end code and 9 bytes of error information
    with pytest.raises(EndCodeError) as info:
        parse_response(frame, "reading D100-D109")
    assert info.value.code == code
    assert text in str(info.value) and f"0x{code:04X}" in str(info.value)
    assert str(info.value).endswith("reading D100-D109")


def test_end_code_c056_reads_as_an_address_problem() -> None:
    with pytest.raises(EndCodeError) as info:
        parse_response(build_response(end_code=0xC056))
    assert info.value.is_address_problem
    assert "address out of range (past the last device number" in str(info.value)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"\xd0\x00\x00\xff", "head is 9 bytes"),
        (bytes.fromhex("50 00 00 ff ff 03 00 02 00 00 00"), "is the PLC port set to binary"),
        (bytes.fromhex("d0 00 00 ff ff 03 00 01 00 00"), "no room for the end code"),
        (bytes.fromhex("d0 00 00 ff ff 03 00 04 00 00 00 00"), "says 4 bytes, the frame has 3"),
    ],
)
def test_malformed_responses(frame: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        parse_response(frame)


def test_bit_units_pack_two_points_a_byte_high_nibble_first() -> None:
    assert encode_bits([True, False, False, True, True]) == b"\x10\x01\x10"
    assert decode_bits(b"\x10\x01\x10", 5) == [True, False, False, True, True]
    with pytest.raises(FrameError):
        decode_bits(b"\x10", 3)


@given(st.lists(st.booleans(), min_size=1, max_size=100))
def test_bits_round_trip(values: list[bool]) -> None:
    assert decode_bits(encode_bits(values), len(values)) == values


@given(
    st.sampled_from(["D", "W", "R", "M", "X", "Y", "B", "L"]),
    st.integers(0, 0xFFFFFF),
    st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=960),
)
def test_a_write_request_parses_back(device: str, number: int, words: list[int]) -> None:
    request = parse_request(build_write(device, number, words))
    assert (request.command, request.subcommand) == (BATCH_WRITE, WORD_UNITS)
    assert (request.device, request.number, request.points) == (device, number, len(words))
    assert list(decode_words(request.data)) == words
    read = parse_request(build_read(device, number, len(words)))
    assert (read.command, read.points, read.data) == (BATCH_READ, len(words), b"")


def test_a_bit_request_parses_back() -> None:
    request = parse_request(build_write("Y", 0x20, [True, True, False], bits=True))
    assert request.subcommand == BIT_UNITS and decode_bits(request.data, 3) == [True, True, False]


def test_requests_a_plc_would_refuse() -> None:
    good = build_read("D", 0, 1)
    with pytest.raises(EndCodeError) as info:
        parse_request(good + b"\x00")
    assert info.value.code == 0xC061
    with pytest.raises(EndCodeError) as info:
        parse_request(good[:11] + b"\x19\x06" + good[13:])
    assert info.value.code == 0xC059
    with pytest.raises(EndCodeError) as info:
        parse_request(good[:18] + b"\x11" + good[19:])
    assert info.value.code == 0xC05C


# --- addresses


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("D100", McAddress("D", 100)),
        ("X1A", McAddress("X", 0x1A)),
        ("XA", McAddress("X", 0xA)),
        ("M10", McAddress("M", 10)),
        ("W1F", McAddress("W", 0x1F)),
        ("BFF", McAddress("B", 0xFF)),
        ("R32767", McAddress("R", 32767)),
        ("L7", McAddress("L", 7)),
        ("Y20", McAddress("Y", 0x20)),
        ("d100", McAddress("D", 100)),
        ("D100.F", McAddress("D", 100, 15)),
        ("W10.3", McAddress("W", 0x10, 3)),
    ],
)
def test_addresses(text: str, expected: McAddress) -> None:
    assert parse_address(text) == expected
    assert parse_address(str(expected)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a device address"),
        ("D1A", "D numbers are decimal, not '1A' (only X, Y, B, W are hexadecimal)"),
        ("M1F", "M numbers are decimal"),
        ("X1G", "X numbers are hexadecimal (0-9, A-F)"),
        ("D", "D needs its device number, as D10"),
        ("Q1", "'Q' is not a device"),
        ("ZR10", "ZR (file register by serial number) is not supported yet"),
        ("K4M0", "K4M0-style digit notation is not supported"),
        ("M10.1", "M is a bit device: M10 is one bit already"),
        ("D100.10", "the bit of a word is one hexadecimal digit 0-F, as D100.F"),
        ("D16777216", "past the last one"),
    ],
)
def test_address_errors_name_the_wrong_part(text: str, message: str) -> None:
    with pytest.raises(McAddressError) as info:
        parse_address(text)
    assert message in str(info.value) and repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("address", "type_", "length", "word", "words", "bit"),
    [
        ("D100", None, None, 100, 1, None),
        ("D200", "uint32", None, 200, 2, None),
        ("D210", "float32", None, 210, 2, None),
        ("D220", "float64", None, 220, 4, None),
        ("D300", "string", 8, 300, 8, None),
        ("M10", None, None, 0, 1, 10),
        ("X1A", "bool", None, 1, 1, 10),
        ("M16", "bool", None, 1, 1, 0),
        ("D100.F", None, None, 100, 1, 15),
    ],
)
def test_locations(
    address: str, type_: str | None, length: int | None, word: int, words: int, bit: int | None
) -> None:
    loc = locate(address, type_, length)
    assert (loc.word, loc.words, loc.bit) == (word, words, bit)


@pytest.mark.parametrize(
    ("address", "type_", "length", "message"),
    [
        ("M10", "uint16", None, "M10 is a bit device: type bool, not uint16"),
        ("D100.1", "int16", None, "D100.1 names a bit: type bool"),
        ("D300", "string", None, "a string needs length"),
        ("D300", "int16", 2, "length is only for type string"),
        ("D300", "int8", None, "type int8 is not bool, string or one of"),
        ("D16777215", "int32", None, "spans 2 words, past the last device number"),
    ],
)
def test_location_errors(address: str, type_: str, length: int | None, message: str) -> None:
    with pytest.raises(McAddressError, match=message):
        locate(address, type_, length)


# --- planner


def spans(requests: list[ReadRequest]) -> list[tuple[str, int, int]]:
    return [(r.device, r.head, r.points) for r in requests]


def test_the_spec_welder_reads_in_three_requests() -> None:
    signals = [
        locate("D100", "int16"),
        locate("D200", "uint32"),
        locate("D210", "float32"),
        locate("M10", "bool"),
        locate("X1A", "bool"),
    ]
    assert spans(plan_reads(signals)) == [
        ("D", 100, 1),
        ("D", 200, 12),
        ("M", 0, 1),
        ("X", 0x10, 1),
    ]


def test_bit_devices_are_read_in_words_from_16_aligned_heads() -> None:
    signals = [locate(f"M{n}") for n in range(0, 100, 3)]
    [request] = plan_reads(signals)
    assert (request.head, request.points) == (0, 7)  # M0-M111: 7 words, not 34 bit reads
    assert request.frame() == build_read("M", 0, 7)


def test_the_960_word_limit_and_the_gap() -> None:
    signals = [locate(f"D{n}", "float32") for n in range(0, 2000, 2)]
    assert [r.points for r in plan_reads(signals)] == [960, 960, 80]
    gap = [locate("D0"), locate("D20")]
    assert len(plan_reads(gap, max_gap=18)) == 2
    assert spans(plan_reads(gap, max_gap=19)) == [("D", 0, 21)]


def test_a_failed_read_splits_and_isolated_signals_are_never_read_through() -> None:
    signals = [locate("D0"), locate("D1"), locate("D5")]
    [block] = plan_reads(signals)
    assert spans(split_failed(block, signals)) == [("D", 0, 2), ("D", 5, 1)]
    assert spans(split_failed(split_failed(block, signals)[0], signals)) == [
        ("D", 0, 1),
        ("D", 1, 1),
    ]
    assert spans(plan_reads(signals, max_gap=100, isolate={1})) == [
        ("D", 0, 1),
        ("D", 1, 1),
        ("D", 5, 1),
    ]


TYPES = ["bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64",
         "string"]  # fmt: skip


@st.composite
def mc_locations(draw: st.DrawFn) -> McLocation:
    device = draw(st.sampled_from(["D", "W", "R", "M", "X", "Y", "B", "L"]))
    number = draw(st.integers(0, 5000))
    if device in ("M", "X", "Y", "B", "L"):
        return locate(McAddress(device, number))
    type_ = draw(st.sampled_from(TYPES))
    if type_ == "bool":
        return locate(McAddress(device, number, draw(st.one_of(st.none(), st.integers(0, 15)))))
    length = draw(st.integers(1, 40)) if type_ == "string" else None
    return locate(McAddress(device, number), type_, length)


@given(st.lists(mc_locations(), max_size=40), st.integers(1, 960), st.integers(0, 50))
def test_every_signal_is_read_exactly_once_within_the_request_size(
    signals: list[McLocation], max_words: int, max_gap: int
) -> None:
    if any(loc.words > max_words for loc in signals):
        with pytest.raises(ValueError, match="more than one request reads"):
            plan_reads(signals, max_words, max_gap)
        return
    requests = plan_reads(signals, max_words, max_gap)
    assert sorted(i for r in requests for i in r.members) == list(range(len(signals)))
    for r in requests:
        assert 1 <= r.points <= max_words
        for i in r.members:
            loc = signals[i]
            assert loc.address.device == r.device and r.word <= loc.word and loc.end <= r.end


# --- codec


def decode_one(field: McField, data: bytes) -> Sample:
    out: list[Sample | None] = [None]
    BlockDecoder(field.location.word, len(data) // 2, [(0, field)]).decode(data, 1, out)
    assert out[0] is not None
    return out[0]


def test_32_bit_values_are_low_word_first() -> None:
    # D200 = 0x5678 (low word), D201 = 0x1234: the value 0x12345678.
    data = bytes.fromhex("78 56 34 12")
    assert decode_one(McField("w", locate("D200", "uint32")), data).value == 0x12345678
    assert encode_value(McField("w", locate("D200", "uint32")), 0x12345678) == [0x5678, 0x1234]
    assert decode_one(McField("c", locate("D210", "float32")), struct.pack("<f", 1.5)).value == 1.5


def test_bits_strings_scale_and_nan() -> None:
    assert decode_one(McField("door", locate("X1A")), struct.pack("<H", 1 << 10)).value is True
    assert decode_one(McField("door", locate("X1B")), struct.pack("<H", 1 << 10)).value is False
    assert decode_one(McField("any", locate("D5", "bool")), b"\x00\x80").value is True
    assert decode_one(McField("s", locate("D0", "string", 3)), b"ABCD\x00\x00").value == "ABCD"
    amps = decode_one(McField("a", locate("D100", "int16"), scale=0.1), struct.pack("<h", -513))
    assert amps.value == pytest.approx(-51.3)
    nan = decode_one(McField("t", locate("D0", "float32")), struct.pack("<f", math.nan))
    assert nan.quality == BAD and nan.value is None


def test_a_short_answer_is_an_error() -> None:
    decoder = BlockDecoder(0, 4, [(0, McField("x", locate("D0")))])
    with pytest.raises(ValueError, match="answered 6 bytes for 4 words"):
        decoder.decode(b"\x00" * 6, 1, [None])


@given(st.data())
def test_encode_then_decode_is_the_identity(data: st.DataObject) -> None:
    loc = data.draw(mc_locations())
    if loc.type == "bool":
        value: Value = data.draw(st.booleans())
    elif loc.type == "string":
        chars = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
        value = data.draw(st.text(chars, max_size=2 * loc.words))
    else:
        value = data.draw(NUMBERS[loc.type])
    field = McField("x", loc)
    words = encode_value(field, value)
    assert len(words) == loc.words
    decoded = decode_one(field, struct.pack(f"<{len(words)}H", *words)).value
    assert_decodes_back(loc.type, decoded, value)


@pytest.mark.parametrize(
    ("kind", "raw", "scale", "decimals", "published"),
    [
        ("int16", struct.pack("<h", 513), 0.1, None, 51.3),  # not 51.300000000000004
        ("float32", struct.pack("<f", 1.1), 1.0, None, 1.1),  # not 1.100000023841858
        ("int32", struct.pack("<i", 123456), 0.001, 1, 123.5),  # decimals: 1
    ],
)
def test_numbers_are_published_as_a_person_writes_them(
    kind: str, raw: bytes, scale: float, decimals: int | None, published: float
) -> None:
    field = McField("t", locate("D100", kind, None), scale=scale, decimals=decimals)
    assert repr(decode_one(field, raw).value) == repr(published)
