"""A real asyncua OPC UA server on loopback whose variables a test sets directly.

Namespace `urn:gerbang:test` holds `Furnace` with one variable per value type a gateway meets:
Double, Int32, UInt32, Boolean, String, LocalizedText, an array of Doubles (not a signal) and a
node whose status is Bad. `restart(renumber=True)` starts it again with an extra namespace
registered first, so `urn:gerbang:test` gets another index, as a real server may do after an
update. With `certificates`, it only offers Basic256Sha256 SignAndEncrypt.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncua import Server, ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography.x509.oid import ExtendedKeyUsageOID

URI = "urn:gerbang:test"

INITIAL: dict[str, tuple[Any, ua.VariantType]] = {
    "Temperature": (1452.5, ua.VariantType.Double),
    "Pressure": (-12, ua.VariantType.Int32),
    "Parts": (4000000000, ua.VariantType.UInt32),
    "Running": (True, ua.VariantType.Boolean),
    "Recipe": ("PP-ABS", ua.VariantType.String),
    "Label": (ua.LocalizedText("Tungku 1", "id"), ua.VariantType.LocalizedText),
    "Profile": ([1.0, 2.0, 3.0], ua.VariantType.Double),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class PkiFiles:
    """A key and a DER certificate for an OPC UA application."""

    key: Path
    cert: Path


async def make_pki(directory: Path, name: str, uri: str, server: bool) -> PkiFiles:
    """A self-signed application certificate (RSA 2048) for 127.0.0.1/localhost."""
    directory.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - test set-up
    files = PkiFiles(directory / f"{name}.pem", directory / f"{name}.der")
    use = [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
    await setup_self_signed_certificate(
        files.key, files.cert, uri, "localhost", use, {"commonName": name}
    )
    return files


class OpcServer:
    """The test server; `endpoint` stays the same across restarts."""

    def __init__(self, port: int | None = None, pki: PkiFiles | None = None) -> None:
        self.port = port or free_port()
        self.pki = pki
        self.server: Server | None = None
        self.nodes: dict[str, Any] = {}
        self.values: dict[str, tuple[Any, ua.VariantType]] = dict(INITIAL)

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/gerbang/"

    async def start(self, renumber: bool = False) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("Gerbang test server")
        if self.pki is not None:
            await server.load_certificate(str(self.pki.cert))
            await server.load_private_key(str(self.pki.key))
            server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        if renumber:
            await server.register_namespace("urn:gerbang:pushed-first")
        idx = await server.register_namespace(URI)
        furnace = await server.nodes.objects.add_object(
            ua.NodeId("Furnace", idx), ua.QualifiedName("Furnace", idx)
        )
        self.nodes = {}
        for name, (value, kind) in self.values.items():
            node = await furnace.add_variable(
                ua.NodeId(f"Furnace.{name}", idx),
                ua.QualifiedName(name, idx),
                ua.Variant(value, kind),
            )
            await node.set_writable()
            self.nodes[name] = node
        broken = await furnace.add_variable(
            ua.NodeId("Furnace.Broken", idx), ua.QualifiedName("Broken", idx), 0.0
        )
        await broken.write_value(
            ua.DataValue(
                ua.Variant(0.0, ua.VariantType.Double),
                ua.StatusCode(ua.StatusCodes.BadSensorFailure),
            )
        )
        self.nodes["Broken"] = broken
        await server.start()
        self.server = server

    async def stop(self) -> None:
        if self.server is not None:
            with contextlib.suppress(Exception):
                await self.server.stop()
            self.server = None
            await asyncio.sleep(0)

    async def restart(self, renumber: bool = False) -> None:
        await self.stop()
        await self.start(renumber=renumber)

    async def write(self, name: str, value: Any) -> None:
        """Set a variable (keeps its type)."""
        kind = self.values[name][1]
        self.values[name] = (value, kind)
        await self.nodes[name].write_value(ua.Variant(value, kind))

    async def namespace_index(self) -> int:
        assert self.server is not None
        return await self.server.get_namespace_index(URI)

    async def add_names_with_slashes(self) -> None:
        """Objects/Line/1 (an object whose browse name holds a "/") with its variable
        `Speed/rpm` = 1.5, and a sibling variable `After` = 2.5: a tree drawn from browse paths
        joined by "/" would get these wrong (the browse tests)."""
        assert self.server is not None
        idx = await self.namespace_index()
        objects = self.server.nodes.objects
        line = await objects.add_object(ua.NodeId("Line/1", idx), ua.QualifiedName("Line/1", idx))
        speed = ua.QualifiedName("Speed/rpm", idx)
        await line.add_variable(ua.NodeId("Line/1.Speed", idx), speed, 1.5)
        await objects.add_variable(ua.NodeId("After", idx), ua.QualifiedName("After", idx), 2.5)
