"""One OPC UA client session for a device: security, credentials, server trust, and teardown.

The asyncua `Client` is built here from the device's config and nothing else does network set-up.
Security: policy None, or Basic256Sha256 with Sign or SignAndEncrypt, the client certificate and
key from the config. The server's certificate must be trusted explicitly: either
`security.server_certificate` names its file, or `security.trust_on_first_use: true` takes the
one the server presents at the first connect, stores it in the trust folder, and from then on
refuses any other (a changed certificate is an error a technician must look at).

asyncua's own reconnect supervisor is off: the poller reconnects with its own backoff, so that
status, logs and namespace resolution stay in one place. asyncua's health probe still runs and
reports a lost connection (keep-alive) through `lost`, within about `watchdog` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from asyncua import Client, ua
from asyncua.crypto import security_policies

from gateway.config.models import OpcUaDevice

from .certs import check_expiry
from .errors import Refused, TrustError, wrapped

log = logging.getLogger(__name__)

WATCHDOG = 1.0
"""Seconds between asyncua's health probes (a read of the server state)."""

_MODES = {
    "Sign": ua.MessageSecurityMode.Sign,
    "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt,
}


class Session:
    """A connected client and the event set when its connection is lost."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.lost = asyncio.Event()
        self.reason: str | None = None
        self._protocol: object | None = None

        async def on_lost(exc: Exception) -> None:
            self.reason = self.reason or _describe_loss(exc)
            self.lost.set()

        client.connection_lost_callback = on_lost

    async def close(self, timeout: float = 2.0) -> None:
        """Close the session and the socket; never raises, never waits longer than `timeout`.

        After a lost connection asyncua marks itself disconnected without closing the socket
        (and an interrupted disconnect leaves it half closed), so the transport captured at
        connect is closed here in any case.
        """
        with contextlib.suppress(Exception):
            async with asyncio.timeout(timeout):
                await self.client.disconnect()
        with contextlib.suppress(Exception):
            self.client.disconnect_socket()
        transport = getattr(self._protocol, "transport", None)
        if transport is not None:
            transport.close()

    def connected(self) -> None:
        """Remember the socket of the new connection (see `close`)."""
        self._protocol = self.client.uaclient.protocol


async def open_session(device: OpcUaDevice, trust_dir: Path | None) -> Session:
    """Connect to the device's endpoint with its security and credentials.

    Raises OpcUaError: ConnectFailed (unreachable), Refused (security, credentials),
    TrustError (server certificate not trusted).
    """
    async with wrapped(device.endpoint):
        return await _open(device, trust_dir)


async def _open(device: OpcUaDevice, trust_dir: Path | None) -> Session:
    client = Client(device.endpoint, timeout=device.timeout, watchdog_intervall=WATCHDOG)
    client.session_timeout = 60_000
    if device.username:
        client.set_user(device.username)
        if device.password is not None:
            client.set_password(device.password.get_secret_value())
    security = device.security
    if security.policy != "None":
        assert security.certificate and security.private_key
        expired = check_expiry(device.id, Path(security.certificate))
        if expired is not None:
            raise Refused(expired)
        # Servers check that the ApplicationUri we announce is the one in our certificate.
        client.application_uri = (
            _application_uri(Path(security.certificate)) or client.application_uri
        )
        server_cert = await _server_certificate(client, device, trust_dir)
        await client.set_security(
            security_policies.SecurityPolicyBasic256Sha256,
            certificate=security.certificate,
            private_key=security.private_key,
            server_certificate=server_cert,
            mode=_MODES[security.mode],
        )
    session = Session(client)
    try:
        await client.connect(auto_reconnect=False)
    except BaseException:
        session.connected()  # whatever socket a failed connect left open is closed too
        await session.close()
        raise
    session.connected()
    return session


async def _server_certificate(
    client: Client, device: OpcUaDevice, trust_dir: Path | None
) -> str | bytes:
    security = device.security
    if security.server_certificate:
        # Compared here, not left to the handshake: a wrong pin then reads as what it is,
        # not as a refusal or a lost connection.
        pinned = _certificate_der(Path(security.server_certificate))
        presented = await _presented(client, device)
        if pinned is not None and pinned != presented:
            raise TrustError(
                f"device {device.id}: the server presents a different certificate than "
                f"security.server_certificate ({security.server_certificate}); if the server's "
                "certificate was renewed, export the new one to that file"
            )
        return security.server_certificate
    if not security.trust_on_first_use:
        raise TrustError(
            f"device {device.id}: the server's certificate is not trusted: set "
            "security.server_certificate to its file, or trust_on_first_use: true to take the "
            "one it presents now"
        )
    if trust_dir is None:
        raise TrustError(f"device {device.id}: trust_on_first_use needs a folder to keep it in")
    stored = trust_dir / f"{device.id}.der"
    presented = await _presented(client, device)
    _pin(device.id, stored, presented)
    return presented


async def _presented(client: Client, device: OpcUaDevice) -> bytes:
    """The certificate the server presents on the endpoint of the device's policy and mode."""
    endpoints = await client.connect_and_get_server_endpoints()
    policy = security_policies.SecurityPolicyBasic256Sha256.URI
    endpoint = Client.find_endpoint(endpoints, _MODES[device.security.mode], policy)
    return _first_certificate(endpoint.ServerCertificate)


def _certificate_der(path: Path) -> bytes | None:
    """A certificate file (DER or PEM) as DER; None when it cannot be read (asyncua says)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        raw = path.read_bytes()
        if raw.startswith(b"-----"):
            return x509.load_pem_x509_certificate(raw).public_bytes(Encoding.DER)
        return _first_certificate(raw)
    except (OSError, ValueError):
        return None


def _pin(device_id: str, stored: Path, presented: bytes) -> None:
    """Keep the certificate seen first; refuse any other later."""
    if stored.exists():
        if stored.read_bytes() != presented:
            raise TrustError(
                f"device {device_id}: the server presents a different certificate than the one "
                f"trusted on first use ({stored}); if the server was replaced on purpose, delete "
                "that file"
            )
        return
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_bytes(presented)
    log.warning("device %s: trusting the server's certificate on first use (%s)", device_id, stored)


def _application_uri(path: Path) -> str | None:
    """The URI in a certificate's subjectAltName (DER or PEM), if it has one."""
    from cryptography import x509

    try:
        raw = path.read_bytes()
        cert = (
            x509.load_pem_x509_certificate(raw)
            if raw.startswith(b"-----")
            else x509.load_der_x509_certificate(raw)
        )
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return None
    uris = names.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def _first_certificate(der: bytes) -> bytes:
    """The leading certificate of a DER blob that may carry its chain after it."""
    length = int.from_bytes(der[2:4], "big") + 4
    return der[:length]


def _describe_loss(exc: Exception) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "the server stopped answering (keep-alive timeout)"
    text = str(exc) or type(exc).__name__
    return f"connection lost: {text}"
