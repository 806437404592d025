"""The MQTT sink's one exception, and the sentences it says to a technician.

paho reports failures as exceptions from `connect`, reason codes in CONNACK and generic names
in `on_disconnect` ("Unspecified error"). This module turns each into a sentence that says what
happened and what to check (`mqtt.password`, `mqtt.tls`...), never a secret. The sink keeps the
sentence as its `last_error` and logs it; nothing else of paho's wording leaks out.
"""

from __future__ import annotations

import socket
import ssl

from gateway.config.models import MqttConfig

CONNECT_TIMEOUT = 10.0
"""Seconds allowed for the TCP connect plus TLS handshake, and again for the broker's CONNACK."""

# What paho's generic reason names mean for someone looking at the status page.
_LOST = {
    "Unspecified error": "connection lost (the broker went away or the network failed)",
    "Keep alive timeout": "the broker did not answer within the keepalive",
}
_REFUSAL_HINTS = {
    "Not authorized": "check mqtt.username and mqtt.password, and the broker's ACL",
    "Bad user name or password": "check mqtt.username and mqtt.password",
    "Client identifier not valid": "check mqtt.client_id",
    "Server unavailable": "the broker is up but not accepting clients yet",
}


class MqttError(Exception):
    """A connection could not be made, was refused or was lost; the text says why, for humans.

    `answered`: something answered on the broker's port (a TLS or MQTT failure, a refusal),
    as opposed to nothing listening there. The sink only watches the port for the broker's
    return when nothing answered.
    """

    def __init__(self, message: str, *, answered: bool = True) -> None:
        super().__init__(message)
        self.answered = answered


def connect_failed(exc: BaseException, config: MqttConfig) -> MqttError:
    """The TCP connect or TLS handshake to the broker raised `exc`."""
    where = f"cannot connect to {config.host}:{config.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        text = f"{where}: TLS certificate not accepted: {exc.verify_message} (check mqtt.tls)"
        return MqttError(text)
    if isinstance(exc, ssl.SSLError):
        return MqttError(f"{where}: TLS handshake failed: {exc.reason or exc} (check mqtt.tls)")
    if isinstance(exc, ConnectionRefusedError):
        text = f"{where}: connection refused (is the broker running and listening there?)"
        return MqttError(text, answered=False)
    if isinstance(exc, socket.gaierror):
        return MqttError(f"{where}: unknown host ({exc.strerror})", answered=False)
    if isinstance(exc, TimeoutError | socket.timeout):
        return MqttError(f"{where}: no answer within {CONNECT_TIMEOUT:.0f} s", answered=False)
    if isinstance(exc, OSError):
        return MqttError(f"{where}: {exc.strerror or exc}", answered=False)
    return MqttError(f"{where}: {exc}")


def tls_setup_failed(exc: BaseException) -> MqttError:
    """The TLS context could not be made (a missing or unreadable file)."""
    return MqttError(f"TLS set-up failed: {exc} (check mqtt.tls)")


def no_connack() -> MqttError:
    """The broker accepted TCP but never answered CONNECT."""
    return MqttError(f"no answer (CONNACK) from the broker within {CONNECT_TIMEOUT:.0f} s")


def closed_before_connack(tls: bool) -> MqttError:
    """The connection dropped before the broker answered CONNECT."""
    hint = (
        " (a TLS broker does this when it wants a client certificate: check "
        "mqtt.tls.cert_file and key_file)"
        if tls
        else " (is this an MQTT listener? does it want TLS?)"
    )
    return MqttError(f"the connection closed before the broker answered{hint}")


def refused(reason: str) -> MqttError:
    """The broker answered CONNECT with a failure `reason` (paho's reason-code name)."""
    hint = _REFUSAL_HINTS.get(reason)
    return MqttError(
        f"the broker refused the connection: {reason}" + (f" ({hint})" if hint else "")
    )


def publish_refused(topic: str, reason: str) -> str:
    """The broker refused a publication to `topic` with `reason` (MQTT 5's reason-code name)."""
    hint = (
        "check the broker's ACL for this topic and mqtt.username"
        if reason == "Not authorized"
        else "the data stays in the buffer and is sent again"
    )
    return f"the broker refused a publication to {topic}: {reason} ({hint})"


def lost(reason: str, from_server: bool) -> str:
    """Why a connection that was up ended, from paho's `on_disconnect` reason name."""
    if from_server:
        return f"the broker closed the connection: {reason}"
    return _LOST.get(reason, reason)
