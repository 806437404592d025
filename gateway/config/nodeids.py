"""Node ids as written in the config, and their resolution against a server's namespaces.

Accepted forms (OPC UA Part 6, 5.3.1.10): `i=85`, `ns=2;i=1001`, `ns=2;s=Drum.Temperature`,
`ns=2;g=09087e75-8e5e-499b-954f-f2a9603db28a`, `ns=2;b=M/RbKBsRVkePCePcx24oRA==`, and the
namespace-URI form `nsu=urn:roaster;s=Drum.Temperature`. Namespace indexes are a server's
private numbering and may change when it restarts; the URI form names the namespace itself, so
it is resolved against the server's namespace array at every connect.

Parsing is pure (the config validator uses it without importing asyncua); `resolve` makes the
asyncua NodeId.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asyncua import ua


class NodeIdError(ValueError):
    """A node id that cannot be parsed, or whose namespace the server does not have."""


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A parsed node id: the namespace URI (URI form) or index, and the identifier part."""

    text: str
    uri: str | None
    index: int
    identifier: str
    """`i=...`, `s=...`, `g=...` or `b=...`."""

    def resolve(self, namespaces: list[str]) -> ua.NodeId:
        """The NodeId on a server with this namespace array."""
        from asyncua import ua

        index = self.index
        if self.uri is not None:
            try:
                index = namespaces.index(self.uri)
            except ValueError:
                raise NodeIdError(
                    f"the server has no namespace {self.uri!r} (it has: {', '.join(namespaces)})"
                ) from None
        return ua.NodeId.from_string(f"ns={index};{self.identifier}")


def parse_node_id(text: str) -> NodeRef:
    """Parse a node id; NodeIdError says what is wrong, with an example of the right form."""
    text = text.strip()
    uri: str | None = None
    index = 0
    rest = text
    if rest.startswith("nsu="):
        head, sep, rest = rest.partition(";")
        uri = head[4:]
        if not sep or not uri:
            raise NodeIdError(f"{text!r}: expected nsu=<namespace uri>;s=<name> (or i=, g=, b=)")
    elif rest.startswith("ns="):
        head, sep, rest = rest.partition(";")
        try:
            index = int(head[3:])
        except ValueError:
            raise NodeIdError(
                f"{text!r}: the namespace index must be a number, as in ns=2;s=Temp"
            ) from None
        if not sep:
            raise NodeIdError(f"{text!r}: expected ns=<index>;s=<name> (or i=, g=, b=)")
    kind, eq, value = rest.partition("=")
    if kind not in ("i", "s", "g", "b") or not eq or not value:
        raise NodeIdError(
            f"{text!r}: not a node id; write ns=2;s=Temp, ns=2;i=1001, i=85 or nsu=<uri>;s=Temp"
        )
    try:
        if kind == "i":
            int(value)
        elif kind == "g":
            uuid.UUID(value)
        elif kind == "b" and not value.startswith("0x"):
            base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        names = {"i": "a number", "g": "a GUID", "b": "base64 bytes"}
        raise NodeIdError(f"{text!r}: after {kind}= comes {names[kind]}") from None
    return NodeRef(text, uri, index, rest)
