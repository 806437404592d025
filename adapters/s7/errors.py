"""The S7 adapter's exception tree, and S7 data-item return codes rendered for humans.

    S7Error
     └── S7AddressError   an address (or its type) that cannot be read as written; also a
                          ValueError, so pydantic reports its message at config validation

The I/O shell adds its connection errors under `S7Error` when it is wired.
"""

from __future__ import annotations

ITEM_RETURN_CODES: dict[int, str] = {
    0x01: "hardware fault",
    0x03: "access denied (is the DB protected, or 'optimized block access' still on?)",
    0x05: "address out of range (is the DB that long?)",
    0x06: "data type not supported",
    0x07: "data type inconsistent",
    0x0A: "object does not exist (no such DB?)",
    0xFF: "success",
}
"""The return code of each data item in a read-variable response (0xFF: success)."""


def item_error(code: int) -> str:
    """A technician's text for a data item return code, e.g. `address out of range (0x05)`."""
    return f"{ITEM_RETURN_CODES.get(code, 'unknown return code')} (0x{code:02X})"


class S7Error(Exception):
    """Base of every error the S7 adapter raises."""


class S7AddressError(S7Error, ValueError):
    """An S7 address that does not parse, or does not agree with the signal's type."""
