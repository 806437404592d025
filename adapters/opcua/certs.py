"""How long our OPC UA client certificate lasts, and the warning before it runs out.

`gerbang opcua cert` makes a certificate valid for one year (asyncua's generator). When it
expires, every server refuses the session, and the line goes quiet on a date nobody
remembers. So every session open checks it: from `WARN_DAYS` before the end, a warning a day
per certificate (not per reconnect); after the end, the connect fails with a sentence that
says what to do, instead of the server's refusal.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

log = logging.getLogger(__name__)

WARN_DAYS = 30
"""Days before the end of a certificate's validity from which the gateway warns."""

_warned: dict[str, dt.date] = {}
"""Certificate path -> the day it was last warned about (one warning a day, per process)."""


def not_valid_after(path: Path) -> dt.datetime | None:
    """The end of a certificate's validity (DER or PEM), UTC; None when it cannot be read."""
    from cryptography import x509

    try:
        raw = path.read_bytes()
        cert = (
            x509.load_pem_x509_certificate(raw)
            if raw.startswith(b"-----")
            else x509.load_der_x509_certificate(raw)
        )
    except (OSError, ValueError):
        return None
    return cert.not_valid_after_utc


def expiry_problem(path: Path, now: dt.datetime) -> tuple[str, bool] | None:
    """(sentence, expired) when the certificate at `path` runs out within `WARN_DAYS` days or
    has; None when it is good for longer (or unreadable: the connect says why)."""
    end = not_valid_after(path)
    if end is None:
        return None
    left = end - now
    renew = "make a new one with `gerbang opcua cert` and have the server trust it"
    if left.total_seconds() <= 0:
        return f"the client certificate {path} expired on {end:%Y-%m-%d}: {renew}", True
    if left.days < WARN_DAYS:
        return (
            f"the client certificate {path} expires on {end:%Y-%m-%d}, in {left.days} days: "
            f"{renew} before then",
            False,
        )
    return None


def check_expiry(device_id: str, path: Path, now: dt.datetime | None = None) -> str | None:
    """Warn (a day at most once per certificate) when it runs out soon; the sentence of an
    expired certificate, for the caller to raise."""
    now = now or dt.datetime.now(dt.UTC)
    problem = expiry_problem(path, now)
    if problem is None:
        return None
    text, expired = problem
    if expired:
        return f"device {device_id}: {text}"
    key = str(path)
    if _warned.get(key) != now.date():
        _warned[key] = now.date()
        log.warning("device %s: %s", device_id, text)
    return None
