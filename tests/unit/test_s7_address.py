"""S7 addresses: every spelling Siemens tools print, errors that name the wrong part."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.s7.address import S7Address, S7AddressError, locate, parse_address


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("DB1.DBX10.0", S7Address("DB", 1, 10, 0, "X")),
        ("DB1.DBB0", S7Address("DB", 1, 0, None, "B")),
        ("DB1.DBW8", S7Address("DB", 1, 8, None, "W")),
        ("DB1.DBD0", S7Address("DB", 1, 0, None, "D")),
        ("DB65535.DBD65532", S7Address("DB", 65535, 65532, None, "D")),
        ("MW20", S7Address("M", 0, 20, None, "W")),
        ("MB3", S7Address("M", 0, 3, None, "B")),
        ("MD4", S7Address("M", 0, 4, None, "D")),
        ("M0.1", S7Address("M", 0, 0, 1, "X")),
        ("MX0.1", S7Address("M", 0, 0, 1, "X")),
        ("I0.3", S7Address("I", 0, 0, 3, "X")),
        ("IW2", S7Address("I", 0, 2, None, "W")),
        ("Q1.7", S7Address("Q", 0, 1, 7, "X")),
        ("QW4", S7Address("Q", 0, 4, None, "W")),
        ("E0.3", S7Address("I", 0, 0, 3, "X")),  # German: Eingang
        ("EW2", S7Address("I", 0, 2, None, "W")),
        ("A1.7", S7Address("Q", 0, 1, 7, "X")),  # German: Ausgang
        ("AW4", S7Address("Q", 0, 4, None, "W")),
        ("%MW20", S7Address("M", 0, 20, None, "W")),  # TIA Portal
        ("%DB1.DBX10.0", S7Address("DB", 1, 10, 0, "X")),
        ("DB1.DBX 10.0", S7Address("DB", 1, 10, 0, "X")),  # STEP 7 Classic
        ("M 0.1", S7Address("M", 0, 0, 1, "X")),
        ("db1.dbw8", S7Address("DB", 1, 8, None, "W")),
        ("  QW4 ", S7Address("Q", 0, 4, None, "W")),
    ],
)
def test_spellings(text: str, expected: S7Address) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("e0.3", "I0.3"), ("%db1.dbx 10.0", "DB1.DBX10.0"), ("AW4", "QW4"), ("MX0.1", "M0.1")],
)
def test_canonical_spelling(text: str, canonical: str) -> None:
    assert str(parse_address(text)) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the address is empty"),
        ("DB1.DBQ8", "'Q' after DB1.DB is not a size letter: X (bit), B (byte), W (word)"),
        ("DB.DBW8", "names the block's number after DB, as DB1.DBW8"),
        ("DB0.DBW0", "data block numbers are 1-65535, not 0"),
        ("DB1.W8", "after DB1 comes .DB and the size letter, as DB1.DBW8"),
        ("DB1DBW8", "after DB1 comes .DB"),
        ("DB1.DBX10", "a bit address names the bit after the byte, as DB1.DBX10.0"),
        ("M10", "as M10.0"),
        ("M0.8", "bit 8 does not exist: the bits of a byte are 0-7"),
        ("MW20.1", "a word address (MW) names a byte, not a bit: drop .1"),
        ("DB1.DBD4.0", "a double word address (DB1.DBD) names a byte"),
        ("MW", "'nothing' after MW is not a byte offset"),
        ("DB1.DBWx", "after DB1.DBW is not a byte offset"),
        ("MW70000", "byte 70000 is past the last byte 65535"),
        ("PIW256", "peripheral addresses (PIW, PQW) are not supported"),
        ("T1", "timers are not supported"),
        ("X1", "'X' is not an area (DB, M, I, Q)"),
        ("D100", "'D' is not an area"),
    ],
)
def test_errors_name_the_wrong_part(text: str, message: str) -> None:
    with pytest.raises(S7AddressError) as info:
        parse_address(text)
    assert message in str(info.value)
    assert repr(text) in str(info.value)


def test_an_unrecognisable_address_lists_the_formats() -> None:
    with pytest.raises(S7AddressError, match=r"expected DB<n>\.DBX<byte>\.<bit>"):
        parse_address("X1")


@pytest.mark.parametrize(
    ("address", "type_", "length", "size"),
    [
        ("DB1.DBX10.0", "bool", None, 1),
        ("MB3", "uint8", None, 1),
        ("MB3", "int8", None, 1),
        ("DB1.DBW8", "int16", None, 2),
        ("MW20", "uint16", None, 2),
        ("DB1.DBD0", "float32", None, 4),
        ("DB1.DBD4", "uint32", None, 4),
        ("MD4", "int32", None, 4),
        ("DB1.DBD12", "float64", None, 8),  # SPEC: 8 bytes from byte 12
        ("DB1.DBD12", "int64", None, 8),
        ("DB2.DBB0", "string", 16, 18),
    ],
)
def test_types_agree_with_the_size_letter(
    address: str, type_: str, length: int | None, size: int
) -> None:
    loc = locate(address, type_, length)
    assert (loc.size, loc.start, loc.end) == (size, loc.address.byte, loc.address.byte + size)


@pytest.mark.parametrize(
    ("address", "type_", "length", "message"),
    [
        (
            "DB1.DBW8",
            "float32",
            None,
            "DB1.DBW8 is a word (W) address, but float32 (REAL) "
            "needs a double word (D) address, as DB1.DBD8",
        ),
        ("DB1.DBX10.0", "int16", None, "needs a word (W) address, as DB1.DBW10"),
        ("DB1.DBD0", "bool", None, "needs a bit (X) address, as DB1.DBX0.0"),
        ("MW20", "uint32", None, "as MD20"),
        ("DB1.DBW12", "float64", None, "float64 (LREAL) needs a double word (D) address"),
        ("DB2.DBW0", "string", 16, "as DB2.DBB0"),
        ("DB2.DBB0", "string", None, "a string needs length"),
        ("DB2.DBB0", "string", 300, "(1-254), not 300"),
        ("DB1.DBW0", "int16", 4, "length is only for type string"),
        ("DB1.DBD65534", "float32", None, "spans 4 bytes, past the last byte 65535"),
        ("MD4", None, None, "a double word needs a type: float32 (REAL)"),
        ("MW4", "int128", None, "type int128 is not one of"),
    ],
)
def test_type_mismatches_say_what_address_the_type_needs(
    address: str, type_: str | None, length: int | None, message: str
) -> None:
    with pytest.raises(S7AddressError) as info:
        locate(address, type_, length)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("address", "type_"), [("M0.1", "bool"), ("MB1", "uint8"), ("IW2", "uint16")]
)
def test_default_types(address: str, type_: str) -> None:
    assert locate(address).type == type_


@given(
    area=st.sampled_from(["DB", "M", "I", "Q"]),
    db=st.integers(1, 65535),
    byte=st.integers(0, 65535),
    bit=st.integers(0, 7),
    size=st.sampled_from(["X", "B", "W", "D"]),
)
def test_canonical_text_parses_back(area: str, db: int, byte: int, bit: int, size: str) -> None:
    address = S7Address(
        area,  # type: ignore[arg-type]
        db if area == "DB" else 0,
        byte,
        bit if size == "X" else None,
        size,  # type: ignore[arg-type]
    )
    assert parse_address(str(address)) == address
    assert parse_address(str(address).lower()) == address


@given(st.text(max_size=20))
def test_any_text_parses_or_raises_an_address_error(text: str) -> None:
    try:
        address: S7Address | None = parse_address(text)
    except S7AddressError as exc:
        address, message = None, str(exc)
    if address is None:
        assert repr(text) in message
    else:
        assert parse_address(str(address)) == address
