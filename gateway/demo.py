"""`gerbang demo`: the whole chain on one machine with no set-up.

Starts every simulated machine in this process on loopback ports (Modbus TCP; the furnace and
the moulding machine also over OPC UA, the mixer also as a Siemens S7 PLC and the tofu line as a
Mitsubishi MELSEC PLC over MC protocol, and the gateway reads those four that way), an MQTT
broker (the one answering on 127.0.0.1:1883, else a mosquitto of our own:
`gateway.broker.local_broker`), the gateway reading the simulators with the very entries
`gerbang sim config` prints, and its HTTP API (status, values, config, /docs) on
127.0.0.1:8080 (or a free port). The config is written to a temporary file, so that changes made
over the API are real. It prints what runs where, then shows the values the gateway reads
as a live table (a refreshing `rich` table on a terminal, a plain snapshot every few seconds
otherwise) until Ctrl-C, SIGTERM or `--duration` seconds; everything stops cleanly and the
exit code is 0.

Each machine that counts parts gets the `oee:` block `gerbang sim config --oee` prints (for
the demo's speed), the site a three-shift calendar published every 5 s, and the live table an
OEE column: availability falls as machines stop, `GET /api/v1/oee` and the web page's OEE tab
show the figures.

`GERBANG_DEMO_MQTT_PORT` picks another broker port, and `GERBANG_DEMO_PORTS=free` puts every
simulator on a free port instead of its known one (tests use both).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import tempfile
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text
from ruamel.yaml import YAML

from gateway.api.server import serve_api
from gateway.broker import local_broker
from gateway.config.store import ConfigStore
from gateway.model import DeviceState, Sample
from gateway.service import Gateway

SPEED = 10.0
"""Simulated seconds per real second in the demo, so that counters and states move."""
SNAPSHOT_EVERY = 5.0
OEE_PUBLISH = "5s"
"""How often the demo's machines publish their OEE (a factory would take a minute)."""
OPCUA_MODELS = ("furnace", "imm")
"""Models also served over OPC UA in the demo (each server costs about a second to start)."""
PLC_MODELS = {"mixer": "s7", "tofu": "mc"}
"""Models also served as a PLC in the demo (`gerbang sim run MODEL --protocol s7|mc`), and
read by the gateway through the S7 and MC adapters."""
STATE_NAMES = {0: "off", 1: "setup", 2: "idle", 3: "running", 4: "fault", 5: "maintenance"}


async def _stop_all(servers: list[Any]) -> None:
    """Stop servers concurrently (an OPC UA server takes about a second to stop)."""
    await asyncio.gather(*(server.stop() for server in servers), return_exceptions=True)


def _pick(known: int) -> int:
    """The known port when it is free (and not told otherwise), else a free one."""
    if os.environ.get("GERBANG_DEMO_PORTS") != "free" and _port_free(known):
        return known
    return _free_port()


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_demo(args: argparse.Namespace) -> int:
    """Run the demo until a signal or `args.duration` seconds; returns the exit code."""
    from simulators.core.clock import RealClock
    from simulators.engine import Simulation
    from simulators.export import Endpoint, device_entries, device_id
    from simulators.frontends.modbus_server import ModbusFrontend
    from simulators.frontends.opcua_server import OpcUaFrontend
    from simulators.frontends.plc_server import PlcFrontend
    from simulators.models import MODELS
    from simulators.oee import site_oee
    from simulators.plc_map import default_port, plc_config

    console = Console()
    # asyncua warns that a server without security has no security: known, on loopback.
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    mqtt_port = int(os.environ.get("GERBANG_DEMO_MQTT_PORT", "1883"))
    lines: list[str] = []
    try:
        async with contextlib.AsyncExitStack() as stack:
            devices: list[dict] = []
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gerbang-demo-")))
            shown: dict[str, Shown] = {}
            opcua_starts: list[Coroutine[Any, Any, None]] = []
            opcua_servers: list[Any] = []
            for seed, model in enumerate(MODELS.values()):
                if "modbus-tcp" not in model.protocols:
                    continue
                port = _pick(model.default_port)
                sim = Simulation(model, RealClock(SPEED), seed=seed)
                frontend = ModbusFrontend(sim)
                await frontend.start_tcp("127.0.0.1", port)
                stack.push_async_callback(frontend.stop)
                entries = device_entries(
                    model, Endpoint("modbus-tcp", "127.0.0.1", port), oee_speed=SPEED
                )
                units = ", ".join(f"{u.unit_id} {device_id(model, u)}" for u in model.units)
                lines.append(
                    f"  {model.name:<8} Modbus TCP 127.0.0.1:{port} (units {units}): "
                    f"mbpoll -m tcp -p {port} -a {model.units[0].unit_id} -t 3 -r 1 -c 8 "
                    "-1 127.0.0.1"
                )
                if model.name in OPCUA_MODELS:
                    # The same machines over OPC UA: the gateway reads these over OPC UA.
                    opc_port = _pick(model.opcua_port)
                    entries = device_entries(
                        model, Endpoint("opcua", "127.0.0.1", opc_port), oee_speed=SPEED
                    )
                    opcua = OpcUaFrontend(
                        sim, {u.unit_id: device_id(model, u) for u in model.units}
                    )
                    opcua_starts.append(opcua.start("127.0.0.1", opc_port))
                    opcua_servers.append(opcua)
                    lines.append(
                        f"  {'':<8} OPC UA opc.tcp://127.0.0.1:{opc_port} (Objects/Factory/...; "
                        "the gateway reads it here)"
                    )
                if model.name in PLC_MODELS:
                    # The same machines as an S7 or MELSEC PLC, read through those adapters.
                    protocol = PLC_MODELS[model.name]
                    plc = PlcFrontend(sim, protocol)
                    await plc.start("127.0.0.1", _pick(default_port(model, protocol)))
                    stack.push_async_callback(plc.stop)
                    # The very entries `gerbang sim config MODEL --protocol s7|mc` prints.
                    config = plc_config(model, protocol, "127.0.0.1", plc.port)
                    entries = YAML(typ="safe", pure=True).load(config)["devices"]
                    what = "Siemens S7" if protocol == "s7" else "MELSEC MC protocol (3E binary)"
                    lines.append(
                        f"  {'':<8} {what} 127.0.0.1:{plc.port} (the gateway reads it here; "
                        f"gerbang sim config {model.name} --protocol {protocol})"
                    )
                devices += entries
                for entry, unit in zip(entries, model.units, strict=True):
                    shown[entry["id"]] = shown_signals(unit)
            stack.push_async_callback(_stop_all, opcua_servers)
            await asyncio.gather(*opcua_starts)
            broker = await stack.enter_async_context(local_broker("127.0.0.1", mqtt_port))
            api_port = _pick(8080)
            path = tmp / "gateway.yaml"
            path.write_bytes(
                orjson.dumps(
                    {
                        "version": 1,
                        "gateway": {"id": "demo", "site": "training", "area": "demo"},
                        "api": {"listen": f"127.0.0.1:{api_port}"},
                        "mqtt": {"host": broker.host, "port": broker.port, "retain": False},
                        "buffer": {"path": str(tmp / "buffer"), "max_size": "100MB"},
                        "oee": site_oee(OEE_PUBLISH),
                        "devices": devices,
                    },
                    option=orjson.OPT_INDENT_2,
                )
            )
            store = ConfigStore.load(path)
            gateway = Gateway(store.config)
            await gateway.start()
            stack.push_async_callback(gateway.stop, 5.0)
            api = await stack.enter_async_context(serve_api(gateway, store))
            if api is not None:
                lines.append(f"Web page: http://127.0.0.1:{api_port}/")
                lines.append(
                    f"HTTP API: http://127.0.0.1:{api_port}/api/v1/status "
                    f"(and /api/v1/values, /api/v1/oee, /docs, /metrics); config file {path}"
                )
            origin = "started by the demo" if broker.started_here else "already running"
            console.print(
                "[bold]gerbang demo[/bold]: simulated machines, a broker and the gateway "
                f"(simulated time runs ×{SPEED:g})\n"
                "simulators:\n" + "\n".join(lines) + "\n"
                f"MQTT broker ({origin}): {broker.host}:{broker.port}\n"
                f"watch it:  mosquitto_sub -h {broker.host} -p {broker.port} "
                "-t 'factory/#' -v\n"
                "each machine's config: gerbang sim config MODEL; Ctrl-C stops everything.",
                highlight=False,
                soft_wrap=True,
            )
            await _show(console, gateway, shown, stop, args.duration)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    console.print("demo stopped")
    return 0


async def _show(
    console: Console,
    gateway: Gateway,
    shown: dict[str, Shown],
    stop: asyncio.Event,
    duration: float | None,
) -> None:
    """The live table until `stop` is set or `duration` has passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration if duration else None

    async def wait(seconds: float) -> bool:
        """Sleep up to `seconds`; True when the demo should end."""
        if deadline is not None:
            seconds = min(seconds, deadline - loop.time())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, seconds))
        return stop.is_set() or (deadline is not None and loop.time() >= deadline)

    if console.is_terminal:
        from rich.live import Live

        with Live(
            render(gateway, shown, console.width), console=console, auto_refresh=False
        ) as live:
            while not await wait(0.5):
                live.update(render(gateway, shown, console.width), refresh=True)
        return
    shown_values = False
    while True:
        has_values = any(gateway.board.latest(d) for d in gateway.board)
        if has_values or not shown_values:
            console.print(render(gateway, shown, console.width))
            shown_values = shown_values or has_values
        if await wait(SNAPSHOT_EVERY if shown_values else 1.0):
            return


@dataclass(frozen=True)
class Shown:
    """Which signals of a device the live table shows: a few measurements and the counters."""

    measures: tuple[str, ...]
    good: str | None
    rejected: str | None


def shown_signals(unit: object) -> Shown:
    """The first four measurements of a simulated machine, and its good/rejected counters."""
    signals = unit.machine.signals  # type: ignore[attr-defined]
    measures = tuple(s.name for s in signals if s.kind == "measure" and s.unit)[:4]
    counters = [s.name for s in signals if s.kind == "counter"]
    good = next((c for c in counters if c.startswith("good")), None)
    rejected = next((c for c in counters if c.startswith("rejected")), None)
    return Shown(measures, good, rejected)


def render(gateway: Gateway, shown: dict[str, Shown], width: int = 200) -> Table:
    """One row per device: machine state (or the link's error), alarm, part counters, run time
    and key values; fewer values on a narrow terminal."""
    table = Table(
        title="values read by the gateway",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
    )
    for column in ("device", "state", "alarm", "good", "rejected", "run", "OEE", "values"):
        table.add_column(column, no_wrap=column != "values")
    keep = 4 if width >= 160 else 2 if width >= 110 else 1
    for device_id, entry in gateway.board.entries():
        status = entry.status
        latest = entry.latest
        show = shown.get(device_id, Shown((), None, None))
        online = status.state is DeviceState.ONLINE
        if online:
            sample = latest.get("state")
            code = sample.value if sample is not None else None
            machine = STATE_NAMES.get(code, "-") if isinstance(code, int) else "-"
            state = Text(machine, style="red" if machine == "fault" else "green")
            values = "  ".join(
                f"{name} {_value(latest, name, unit=True)}" for name in show.measures[:keep]
            )
        else:
            state = Text(status.state.value, style="red")
            values = status.last_error or ""
        run = latest.get("run_seconds")
        table.add_row(
            device_id,
            state,
            _value(latest, "alarm_code"),
            _value(latest, show.good),
            _value(latest, show.rejected),
            f"{run.value} s" if run is not None and run.value is not None else "-",
            _oee(gateway, device_id),
            values,
        )
    table.caption = gateway.summary()
    return table


def _oee(gateway: Gateway, device_id: str) -> str:
    """The machine's OEE and availability this shift ("A 87% OEE 79%"), or "-"."""
    service = gateway.oee.service
    if service is None or device_id not in service.devices():
        return "-"
    current = service.figures(device_id)["current"]
    if not current or current.get("availability") is None:
        return "-"
    oee = current.get("oee")
    text = f"A {current['availability']:.0%}"
    return f"{text} OEE {oee:.0%}" if oee is not None else text


def _value(latest: dict[str, Sample], name: str | None, *, unit: bool = False) -> str:
    """The latest value of signal `name` as text ("-" when unknown), optionally with its unit."""
    sample = latest.get(name) if name else None
    if sample is None:
        return "-"
    if sample.value is None:
        return f"bad ({sample.quality})"
    text = f"{sample.value:.1f}" if isinstance(sample.value, float) else str(sample.value)
    return f"{text} {sample.unit}" if unit and sample.unit else text
