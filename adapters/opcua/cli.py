"""`gerbang opcua browse` and `gerbang opcua cert`: the technician's OPC UA tools.

`browse` lists the variables of a server (or of a configured device, with its security,
credentials and the server certificate the gateway trusted on first use) with node ids ready to
paste into the config. `cert` makes the client certificate and key that `security.certificate`
and `security.private_key` name, for servers that want Basic256Sha256, valid for one year; the
server's administrator must then trust that certificate.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.adapter import BrowsedNode
    from gateway.config.models import OpcUaDevice

CLIENT_URI = "urn:gerbang:{host}"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `opcua browse` and `opcua cert` to the `gerbang` command."""
    opcua = sub.add_parser("opcua", help="OPC UA tools: browse a server, make a certificate")
    tools = opcua.add_subparsers(dest="tool", required=True, metavar="TOOL")

    browse = tools.add_parser("browse", help="list the variables of a server, with node ids")
    browse.add_argument("endpoint", nargs="?", help="opc.tcp://host:port/... (security None)")
    browse.add_argument("-c", "--config", help="a config file: browse one of its devices")
    browse.add_argument("--device", help="with -c: the device id (its security and login)")
    browse.add_argument("--node", default="i=85", help="where to start (default: Objects)")
    browse.add_argument("--depth", type=int, default=4, help="levels to go down (default 4)")
    browse.set_defaults(func=cmd_browse)

    cert = tools.add_parser("cert", help="make a client certificate and key for Basic256Sha256")
    cert.add_argument("--dir", default=".", help="where to write gerbang-client.der/.pem")
    cert.add_argument("--uri", default=None, help="application URI (default urn:gerbang:HOST)")
    cert.set_defaults(func=cmd_cert)


def cmd_browse(args: argparse.Namespace) -> int:
    """Print the tree below --node; exit 1 when the server cannot be reached."""
    from gateway.config.models import OpcUaDevice

    if args.config:
        from gateway.config.loader import ConfigError, load_config

        try:
            config = load_config(Path(args.config))
        except ConfigError as exc:
            for issue in exc.issues:
                print(issue, file=sys.stderr)
            return 1
        device = config.device(args.device or "")
        if not isinstance(device, OpcUaDevice):
            print(f"gerbang: no opcua device {args.device!r} in {args.config}", file=sys.stderr)
            return 1
        # Where the gateway keeps the certificates it trusted on first use (AdapterContext).
        trust_dir = Path(config.buffer.path).parent / "opcua-trust"
        stored = trust_dir / f"{device.id}.der"
        if device.security.trust_on_first_use and not stored.exists():
            print(
                f"gerbang: device {device.id} trusts the server's certificate on first use, and "
                f"the gateway has not met it yet ({stored} does not exist): start the gateway "
                "once, or set security.server_certificate",
                file=sys.stderr,
            )
            return 1
        return asyncio.run(_browse(device, args.node, args.depth, trust_dir))
    if args.endpoint:
        # Validated from raw values as a config file is ("5s" is a duration, not a float).
        device = OpcUaDevice.model_validate(
            {"id": "browse", "protocol": "opcua", "endpoint": args.endpoint, "timeout": "5s"}
        )
    else:
        print("gerbang opcua browse: give an ENDPOINT, or -c FILE --device ID", file=sys.stderr)
        return 2
    return asyncio.run(_browse(device, args.node, args.depth, None))


def tree_depths(nodes: list[BrowsedNode]) -> list[int]:
    """How deep each node of a depth-first browse sits (0: a child of the start node).

    From the nodes' `children` counts, not their `path`: a browse name may hold a "/" itself
    ("Line/1"), which the path cannot tell from a level.
    """
    depths: list[int] = []
    left: list[int] = []  # for each open ancestor, its descendants not listed yet
    for node in nodes:
        while left and left[-1] == 0:
            left.pop()
        depths.append(len(left))
        for i in range(len(left)):
            left[i] -= 1
        left.append(node.children)
    return depths


async def _browse(device: OpcUaDevice, start: str, depth: int, trust_dir: Path | None) -> int:
    from .browse import browse
    from .errors import OpcUaError, wrapped
    from .session import open_session

    try:
        session = await open_session(device, trust_dir)
        try:
            async with wrapped(device.endpoint):
                nodes = await browse(session.client, start, depth)
        finally:
            await session.close()
    except OpcUaError as exc:
        text = str(exc)
        if text.startswith(f"{device.endpoint}: "):
            text = text[len(device.endpoint) + 2 :]
        print(f"gerbang: cannot browse {device.endpoint}: {text}", file=sys.stderr)
        return 1
    for item, level in zip(nodes, tree_depths(nodes), strict=True):
        indent = "  " * level
        if item.kind == "object":
            print(f'{indent}{item.name}/    (--node "{item.node}")')
            continue
        value = item.value if item.readable else f"({item.error})"
        print(f"{indent}{item.name} [{item.data_type}] = {value}")
        print(f'{indent}    node: "{item.node}"')
    return 0


def cmd_cert(args: argparse.Namespace) -> int:
    """Write gerbang-client.der (certificate) and gerbang-client.pem (key) to --dir."""
    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from cryptography.x509.oid import ExtendedKeyUsageOID

    host = socket.gethostname()
    uri = args.uri or CLIENT_URI.format(host=host)
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "gerbang-client.der", folder / "gerbang-client.pem"
    asyncio.run(
        setup_self_signed_certificate(
            key,
            cert,
            uri,
            host,
            [ExtendedKeyUsageOID.CLIENT_AUTH],
            {"commonName": f"gerbang {host}"},
        )
    )
    key.chmod(0o600)
    from .certs import WARN_DAYS, not_valid_after

    end = not_valid_after(cert)
    print(f"certificate: {cert}\nprivate key: {key}\napplication URI: {uri}")
    if end is not None:
        print(
            f"valid until {end:%Y-%m-%d} (one year from when it was made); the gateway warns "
            f"{WARN_DAYS} days before. Run this again then (with the old files moved away) and "
            "have the server trust the new certificate."
        )
    print("In the config:\n    security:\n      policy: Basic256Sha256\n      mode: SignAndEncrypt")
    print(f"      certificate: {cert.resolve()}\n      private_key: {key.resolve()}")
    print("Then have the server trust this certificate (its administrator, or its trust list).")
    return 0
