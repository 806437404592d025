"""The OPC UA adapter's exception tree, and asyncua's and the OS's errors rendered for humans.

    OpcUaError (gateway.adapter.AdapterError)
     ├── ConnectFailed  (DeviceUnreachable)  refused, unreachable, no answer in time
     ├── Refused        the server answered with a bad status: security, credentials, ...
     ├── TrustError     the server's certificate is not the one trusted for this device
     ├── SessionLost    a session that was up ended (keep-alive, socket closed, subscription)
     └── BadNode        (BadRequest)  a node id that cannot be parsed or resolved

asyncua and OS exceptions are mapped to these at the adapter's boundary (`wrapped`), so the
poller's loop, the API and the CLI catch only `OpcUaError`, and every message names the
endpoint, as `adapters/modbus/errors.py` names the link and unit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from asyncua import ua

from gateway.adapter import AdapterError, BadRequest, DeviceUnreachable
from gateway.config.nodeids import NodeIdError

from .values import status_text


class OpcUaError(AdapterError):
    """Base of every error the OPC UA adapter raises."""


class ConnectFailed(OpcUaError, DeviceUnreachable):
    """The endpoint cannot be reached, refused the connection, or did not answer in time."""


class Refused(OpcUaError):
    """The server answered with a bad status code (security, identity, too many sessions)."""


class TrustError(OpcUaError):
    """The server's certificate is not the one trusted for this device."""


class SessionLost(OpcUaError):
    """A session that was up ended; the text says why."""


class BadNode(OpcUaError, BadRequest):
    """A node id that cannot be parsed, or whose namespace the server does not have."""


_OUR_CERTIFICATE_REFUSED = (
    "BadSecurityChecksFailed",
    "BadCertificateUntrusted",
    "BadCertificateInvalid",
    "BadCertificateUriInvalid",
    "BadCertificateTimeInvalid",
    "BadCertificateRevoked",
)
"""What a server answers when it refuses the certificate we present (its checks of OUR
certificate: a server certificate we do not trust is refused on our side, as TrustError)."""


def describe(exc: BaseException, endpoint: str) -> str:
    """A technician's sentence for a failure talking to `endpoint`."""
    if isinstance(exc, OpcUaError):
        return str(exc)
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot connect to {endpoint}: connection refused (is the server running?)"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return f"no answer from {endpoint} in time"
    if isinstance(exc, ua.UaStatusCodeError):
        text = status_text(ua.StatusCode(exc.code))
        hint = ""
        if "Identity" in text or "User" in text:
            hint = " (check username and password)"
        elif text.startswith(_OUR_CERTIFICATE_REFUSED):
            hint = (
                " (the server does not trust our client certificate, security.certificate: "
                "have its administrator trust it; many servers keep it under a 'rejected' "
                "folder)"
            )
        elif "Security" in text or "Certificate" in text:
            hint = " (check security: policy, mode, certificates)"
        return f"{endpoint} refused: {text}{hint}"
    if isinstance(exc, OSError):
        return f"cannot connect to {endpoint}: {exc.strerror or exc}"
    text = str(exc) or type(exc).__name__
    return f"{endpoint}: {text}"


def wrap(exc: BaseException, endpoint: str) -> OpcUaError:
    """The OpcUaError that stands for `exc` (asyncua's, the OS's, or already ours)."""
    if isinstance(exc, OpcUaError):
        return exc
    message = describe(exc, endpoint)
    if isinstance(exc, NodeIdError):
        return BadNode(f"{endpoint}: {exc}")
    if isinstance(exc, ua.UaStatusCodeError):
        return Refused(message)
    if isinstance(exc, OSError | TimeoutError | asyncio.TimeoutError | ConnectionError):
        return ConnectFailed(message)
    return OpcUaError(message)


BOUNDARY: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    ConnectionError,
    ua.UaError,
    NodeIdError,
)
"""What asyncua and the OS raise on a connection; `wrapped` turns these into OpcUaError."""


@contextlib.asynccontextmanager
async def wrapped(endpoint: str) -> AsyncIterator[None]:
    """Map asyncua's and the OS's exceptions raised inside into OpcUaError (`raise ... from`)."""
    try:
        yield
    except BOUNDARY as exc:
        raise wrap(exc, endpoint) from exc
