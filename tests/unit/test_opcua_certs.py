"""The client certificate's lifetime: a warning from 30 days before its end (once a day), an
error sentence once it has ended (adapters/opcua/certs.py), on a real generated certificate."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

import pytest
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography.x509.oid import ExtendedKeyUsageOID

from adapters.opcua import certs


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cert")
    cert, key = folder / "c.der", folder / "c.pem"
    asyncio.run(
        setup_self_signed_certificate(
            key, cert, "urn:t", "localhost", [ExtendedKeyUsageOID.CLIENT_AUTH], {"commonName": "t"}
        )
    )
    return cert


def test_a_fresh_certificate_lasts_a_year_and_says_nothing(certificate: Path) -> None:
    end = certs.not_valid_after(certificate)
    assert end is not None
    assert 364 <= (end - dt.datetime.now(dt.UTC)).days <= 365
    assert certs.check_expiry("d", certificate) is None


def test_warns_once_a_day_in_its_last_30_days(certificate: Path, caplog) -> None:
    end = certs.not_valid_after(certificate)
    assert end is not None
    soon = end - dt.timedelta(days=10)
    with caplog.at_level(logging.WARNING):
        assert certs.check_expiry("d", certificate, soon) is None
        assert certs.check_expiry("d", certificate, soon + dt.timedelta(hours=1)) is None
    warnings = [r.getMessage() for r in caplog.records if "expires on" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert f"expires on {end:%Y-%m-%d}, in 10 days" in warnings[0]
    assert "gerbang opcua cert" in warnings[0]


def test_an_expired_certificate_is_an_error_sentence(certificate: Path) -> None:
    end = certs.not_valid_after(certificate)
    assert end is not None
    text = certs.check_expiry("d", certificate, end + dt.timedelta(days=1))
    assert text is not None and text.startswith(f"device d: the client certificate {certificate}")
    assert f"expired on {end:%Y-%m-%d}" in text
