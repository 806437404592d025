"""The S7 adapter's exception tree, and S7 data-item return codes rendered for humans.

    S7Error (gateway.adapter.AdapterError)
     ├── S7AddressError   an address (or its type) that cannot be read as written; also a
     │                    ValueError, so pydantic reports its message at config validation
     ├── LinkDown         the PLC cannot be reached, or the connection was lost (also
     │                    DeviceUnreachable)
     ├── NoResponse       the PLC did not answer within the timeout (also DeviceUnreachable)
     ├── ItemRefused      the PLC answered a read or a write with a data-item return code
     │                    other than 0xFF (0x05 address out of range, 0x0A no such DB):
     │                    these addresses alone are wrong
     ├── WriteFailed      the PLC refused a write as a whole (an error class, no item code)
     └── WriteMismatch    a write acknowledged, but read back otherwise (also
                          ReadBackMismatch)

python-snap7's errors are mapped to these at the boundary (`link.py`), with the device's
connection and the bytes read in the message.
"""

from __future__ import annotations

from gateway.adapter import AdapterError, DeviceUnreachable, ReadBackMismatch

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


class S7Error(AdapterError):
    """Base of every error the S7 adapter raises."""


class S7AddressError(S7Error, ValueError):
    """An S7 address that does not parse, or does not agree with the signal's type."""


class LinkDown(S7Error, DeviceUnreachable):
    """The connection to the PLC cannot be opened, or was lost."""


class NoResponse(S7Error, DeviceUnreachable):
    """The PLC did not answer within the timeout."""


class ItemRefused(S7Error):
    """The PLC refused one read item: `code` is its data-item return code."""

    def __init__(self, code: int, where: str, verb: str = "reading") -> None:
        self.code = code
        super().__init__(f"{item_error(code)} {verb} {where}")


class WriteFailed(S7Error):
    """The PLC refused a write as a whole (an error class in its answer, not an item code)."""


class WriteMismatch(S7Error, ReadBackMismatch):
    """The PLC acknowledged a write, but the value read back is not the one written."""
