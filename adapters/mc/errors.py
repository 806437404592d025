"""The MC adapter's exception tree, and SLMP end codes rendered for a technician.

McError (gateway.adapter.AdapterError)
 ├── McAddressError  an address (or its type) that cannot be read as written; also a
 │                   ValueError, so pydantic reports its message at config validation
 ├── FrameError      bytes that are not a 3E binary response (wrong subheader, length)
 ├── EndCodeError    the PLC answered with an end code other than 0 (0xC056, ...)
 ├── LinkDown        the PLC cannot be reached, or closed the connection (also
 │                   DeviceUnreachable)
 ├── NoResponse      the PLC did not answer within the timeout (also DeviceUnreachable)
 └── WriteMismatch   a write acknowledged, but read back otherwise (also ReadBackMismatch)
"""

from __future__ import annotations

from gateway.adapter import AdapterError, DeviceUnreachable, ReadBackMismatch

END_CODES: dict[int, str] = {
    0xC050: "ASCII data that cannot be converted (the PLC port is set to ASCII, not binary?)",
    0xC051: "too many bit points in one batch read or write",
    0xC052: "too many word points in one batch read or write (or zero)",
    0xC053: "too many bit points in one random read or write",
    0xC054: "too many word points in one random read or write",
    0xC056: "address out of range (past the last device number configured in the PLC)",
    0xC057: "request length does not match its data",
    0xC058: "request length does not match its data after ASCII conversion",
    0xC059: "command error: this PLC or module does not support the command or subcommand",
    0xC05B: "the module cannot read or write this device",
    0xC05C: "wrong request: this device does not exist on this PLC, or a bit access to a word "
    "device",
    0xC05F: "this request cannot be executed on the target CPU",
    0xC060: "wrong request contents (bit device data)",
    0xC061: "length error: the request data length does not match the data",
    0xC06F: "a binary port received ASCII, or the reverse",
    0xC0D8: "too many blocks",
    0xC200: "wrong remote password",
    0xC201: "the remote password is locked",
    0x4031: "device number out of range, or a device this CPU cannot handle",
    0x4032: "wrong device modification, or a device that cannot be used here",
}
"""End codes of the MELSEC MC protocol / SLMP reference manuals, in a technician's words."""


def end_code_text(code: int) -> str:
    """`address out of range (...) (end code 0xC056)`; unknown codes keep their number."""
    return f"{END_CODES.get(code, 'error')} (end code 0x{code:04X})"


class McError(AdapterError):
    """Base of every error the MC adapter raises."""


class LinkDown(McError, DeviceUnreachable):
    """The TCP connection to the PLC cannot be opened, or was lost."""


class NoResponse(McError, DeviceUnreachable):
    """The PLC did not answer within the timeout."""


class McAddressError(McError, ValueError):
    """An MC address that does not parse, or does not agree with the signal's type."""


class FrameError(McError):
    """Bytes that are not a well-formed 3E binary response."""


class EndCodeError(McError):
    """The PLC refused a request: `code` is its end code."""

    def __init__(self, code: int, what: str = "") -> None:
        self.code = code
        super().__init__(end_code_text(code) + (f" {what}" if what else ""))

    @property
    def is_address_problem(self) -> bool:
        """Whether the PLC refused these devices (so splitting the request can help)."""
        return self.code in (0xC056, 0xC05B, 0xC05C, 0x4031)


class WriteMismatch(McError, ReadBackMismatch):
    """The PLC acknowledged a write, but the value read back is not the one written."""
