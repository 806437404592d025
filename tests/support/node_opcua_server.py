"""node-opcua's server (Node.js), for tests that need an OPC UA stack not built on asyncua.

`tests/support/node_opcua/server.js` serves `urn:gerbang:node-opcua` with a Loom object. Its npm
packages are installed next to it on first use (`npm install`, about 15 s, 70 MB, from the npm
registry), then reused.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.influx import stop_process
from tests.support.opcua_server import free_port
from tests.support.wait import eventually_sync

HERE = Path(__file__).parent / "node_opcua"
URI = "urn:gerbang:node-opcua"


def ensure_installed() -> str:
    """The node binary, with node-opcua installed next to server.js."""
    node, npm = shutil.which("node") or shutil.which("nodejs"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are needed for the node-opcua server (make test installs them)")
    if not (HERE / "node_modules" / "node-opcua-server").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
            check=True,
            capture_output=True,
            timeout=600,
        )
    return node


class NodeOpcuaServer:
    """`node server.js PORT PKI` in a temporary folder; `endpoint` once started."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.log = directory / "node-opcua.log"

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/gerbang"

    def start(self, timeout: float = 60.0) -> None:
        node = ensure_installed()
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [node, str(HERE / "server.js"), str(self.port), str(self.directory / "pki")],
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        proc = self.proc

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"node-opcua exited: {self.log.read_text()[-2000:]}")
            return "READY" in self.log.read_text()

        try:
            eventually_sync(ready, timeout, interval=0.1)
        except TimeoutError:
            raise RuntimeError(
                f"node-opcua did not start: {self.log.read_text()[-2000:]}"
            ) from None

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None
