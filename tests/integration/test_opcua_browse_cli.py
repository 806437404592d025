"""`gerbang opcua browse` and `gerbang opcua cert` as a technician runs them (issue 18), against
the real asyncua test server: the tree drawn from the levels (names may hold "/"), unknown
namespaces and nodes said in one line with exit 1, `-c FILE --device ID` with a server trusted
on first use, and which side refused when certificates do not fit."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from asyncua import ua
from asyncua.crypto.validator import ServiceError

from adapters.opcua.errors import Refused
from adapters.opcua.session import open_session
from gateway.config.models import OpcUaDevice
from tests.support.opcua_server import URI, OpcServer, PkiFiles, make_pki

pytestmark = pytest.mark.integration


async def gerbang(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_names_with_a_slash_are_drawn_at_their_own_level(opc) -> None:
    done = await gerbang("opcua", "browse", opc.endpoint, "--depth", "3")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if not line.strip().startswith("node:")]
    assert "  Temperature [Double] = 1452.5" in lines
    assert f'Line/1/    (--node "nsu={URI};s=Line/1")' in lines, "a top-level object"
    assert "  Speed/rpm [Double] = 1.5" in lines, "its child, one level in"
    assert "After [Double] = 2.5" in lines, "a sibling of Line/1, not its child"


@pytest.mark.parametrize(
    ("node", "said"),
    [
        ("nsu=urn:nope;s=x", "the server has no namespace 'urn:nope'"),
        ("ns=9;s=x", "the server has no namespace 9 in 'ns=9;s=x' (it has 3: 0=http"),
        (f"nsu={URI};s=Nope", f"the server has no node 'nsu={URI};s=Nope'"),
    ],
)
async def test_an_unknown_namespace_or_node_is_one_line_and_exit_1(opc, node, said) -> None:
    done = await gerbang("opcua", "browse", opc.endpoint, "--node", node)
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stderr
    assert f"gerbang: cannot browse {opc.endpoint}: {said}" in done.stderr
    assert done.stdout == ""


# -- security ------------------------------------------------------------------------------


async def secure_server(tmp_path: Path) -> tuple[OpcServer, PkiFiles, PkiFiles]:
    server_pki = await make_pki(tmp_path / "pki", "server", "urn:gerbang:test-server", True)
    client_pki = await make_pki(tmp_path / "pki", "client", "urn:gerbang:client", False)
    server = OpcServer(pki=server_pki)
    await server.start()
    return server, server_pki, client_pki


def write_config(tmp_path: Path, server: OpcServer, security: dict[str, object]) -> Path:
    config = {
        "version": 1,
        "gateway": {"id": "gw"},
        "buffer": {"path": str(tmp_path / "state" / "buffer")},
        "devices": [
            {
                "id": "roaster-1",
                "protocol": "opcua",
                "endpoint": server.endpoint,
                "security": {"policy": "Basic256Sha256", "mode": "SignAndEncrypt", **security},
                "signals": [{"name": "t", "node": f"nsu={URI};s=Furnace.Temperature"}],
            }
        ],
    }
    path = tmp_path / "gw.yaml"
    path.write_bytes(orjson.dumps(config))
    return path


async def test_browse_a_device_trusted_on_first_use_with_its_stored_certificate(
    tmp_path: Path,
) -> None:
    server, server_pki, client_pki = await secure_server(tmp_path)
    try:
        config = write_config(
            tmp_path,
            server,
            {
                "certificate": str(client_pki.cert),
                "private_key": str(client_pki.key),
                "trust_on_first_use": True,
            },
        )
        args = ("opcua", "browse", "-c", str(config), "--device", "roaster-1", "--depth", "2")
        before = await gerbang(*args)
        assert before.returncode == 1
        assert "the gateway has not met it yet" in before.stderr
        # The gateway met the server once and kept its certificate where it keeps it.
        trust = tmp_path / "state" / "opcua-trust"
        trust.mkdir(parents=True)
        shutil.copy(server_pki.cert, trust / "roaster-1.der")
        done = await gerbang(*args)
        assert done.returncode == 0, done.stderr
        assert "  Temperature [Double] = 1452.5" in done.stdout
    finally:
        await server.stop()


async def test_a_pinned_server_certificate_that_does_not_match_is_said_so(tmp_path) -> None:
    server, _server_pki, client_pki = await secure_server(tmp_path)
    other = await make_pki(tmp_path / "other", "other", "urn:other", True)
    try:
        config = write_config(
            tmp_path,
            server,
            {
                "certificate": str(client_pki.cert),
                "private_key": str(client_pki.key),
                "server_certificate": str(other.cert),
            },
        )
        done = await gerbang("opcua", "browse", "-c", str(config), "--device", "roaster-1")
        assert done.returncode == 1
        assert (
            "presents a different certificate than security.server_certificate "
            f"({other.cert})" in done.stderr
        )
    finally:
        await server.stop()


async def test_a_server_that_refuses_our_certificate_is_said_so(tmp_path) -> None:
    server, server_pki, client_pki = await secure_server(tmp_path)

    async def refuse(_cert: object, _app: object) -> None:
        raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)

    assert server.server is not None
    server.server.set_certificate_validator(refuse)
    device = OpcUaDevice.model_validate(
        {
            "id": "roaster-1",
            "protocol": "opcua",
            "endpoint": server.endpoint,
            "timeout": "5s",
            "security": {
                "policy": "Basic256Sha256",
                "mode": "SignAndEncrypt",
                "certificate": str(client_pki.cert),
                "private_key": str(client_pki.key),
                "server_certificate": str(server_pki.cert),
            },
        }
    )
    try:
        with pytest.raises(Refused) as caught:
            await open_session(device, None)
        text = str(caught.value)
        assert "does not trust our client certificate" in text, text
        assert "different certificate" not in text
    finally:
        await server.stop()


# -- the client certificate's lifetime -----------------------------------------------------


async def test_cert_says_how_long_the_certificate_lasts(tmp_path) -> None:
    done = await gerbang("opcua", "cert", "--dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    year = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
    assert f"valid until {year:%Y-%m-%d} (one year" in done.stdout or (
        f"valid until {year - dt.timedelta(days=1):%Y-%m-%d} (one year" in done.stdout
    )
    assert "the gateway warns 30 days before" in done.stdout
