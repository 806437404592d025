"""`gerbang sim`: list, run, config and describe the simulated machines.

`register(sub)` adds the `sim` subcommand to the `gerbang` parser (gateway/cli.py calls it).
`sim run` serves one model until SIGINT/SIGTERM and exits 0; it binds 127.0.0.1 unless told
otherwise (`--host`), and with `--protocol modbus-rtu` and no `--serial-port` it creates a
pseudo-terminal pair with socat and prints the end the gateway (or mbpoll) should open.
`sim run --truth FILE` keeps FILE holding the simulator's own OEE figures (every second of
real time and at stop, `simulators.oee.truth`); `sim config --oee` adds the `oee:` blocks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from simulators.core.clock import RealClock
from simulators.core.faults import FAULT_COIL_BASE
from simulators.core.spec import Model
from simulators.engine import Simulation
from simulators.export import DEFAULT_BAUDRATE, Endpoint, describe, describe_index, sim_config
from simulators.models import MODELS, get_model

PROTOCOLS = ("modbus-tcp", "modbus-rtu", "opcua", "s7", "mc")
PLC_PROTOCOLS = ("s7", "mc")
"""Every model is served as an S7 or MELSEC PLC too (simulators/plc_map.py)."""


def cmd_list(_args: argparse.Namespace) -> int:
    """One model per line: name, protocols, description."""
    width = max(len(name) for name in MODELS)
    for model in MODELS.values():
        print(f"{model.name:<{width}}  {','.join(model.protocols):<21}  {model.description}")
    return 0


def _model(args: argparse.Namespace) -> Model:
    """The model named on the command line; exits 2 with the known names otherwise."""
    try:
        model = get_model(args.model)
    except KeyError as exc:
        print(f"gerbang sim: {exc.args[0]}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.protocol not in (*model.protocols, *PLC_PROTOCOLS):
        print(
            f"gerbang sim: model {model.name} does not speak {args.protocol} "
            f"(it speaks {', '.join(model.protocols)})",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return model


def cmd_config(args: argparse.Namespace) -> int:
    """Print the `devices:` entries that read the simulator."""
    model = _model(args)
    if args.protocol in PLC_PROTOCOLS:
        from simulators.plc_map import plc_config

        sys.stdout.write(plc_config(model, args.protocol, args.host, args.port, args.id))
        return 0
    endpoint = Endpoint(
        args.protocol, args.host, args.port, args.serial_port, args.baudrate or DEFAULT_BAUDRATE
    )
    text = sim_config(
        model,
        endpoint,
        args.id,
        full=args.full,
        mqtt_port=args.mqtt_port,
        oee=args.oee,
        speed=args.speed,
    )
    sys.stdout.write(text)
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    """Print the register map as Markdown (`all`: the index of every model)."""
    if args.model == "all":
        sys.stdout.write(describe_index(list(MODELS.values())))
        return 0
    args.protocol = "modbus-tcp"
    sys.stdout.write(describe(_model(args)))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Serve one model until SIGINT/SIGTERM."""
    model = _model(args)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr, force=True
    )
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    try:
        sim = Simulation(
            model,
            RealClock(args.speed),
            seed=args.seed,
            faults=args.fault or (),
            fault_rate_per_h=args.fault_rate,
        )
    except ValueError as exc:
        print(f"gerbang sim: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_serve(sim, args))


async def _serve_opcua(sim: Simulation, args: argparse.Namespace) -> int:
    from simulators.export import device_id
    from simulators.frontends.opcua_server import OpcUaFrontend

    model = sim.model
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # asyncua warns that a server without security has no security: known, on loopback.
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    devices = {u.unit_id: device_id(model, u) for u in model.units}
    frontend = OpcUaFrontend(sim, devices)
    port = args.port or model.opcua_port
    try:
        await frontend.start(args.host, port)
    except OSError as exc:
        print(f"gerbang sim: cannot listen on {args.host}:{port}: {exc}", file=sys.stderr)
        return 1
    try:
        print(
            f"simulating {model.name} at speed ×{args.speed:g}, seed {args.seed}: OPC UA on "
            f"{frontend.endpoint}\n"
            f"  node tree:     Objects/Factory/{{{', '.join(devices.values())}}} in namespace "
            "urn:pilot-factory:simulators\n"
            f"  gateway entry: gerbang sim config {model.name} --protocol opcua --port {port}\n"
            f"  faults:        {', '.join(sim.known_faults())} (methods InjectFault/ClearFault)\n"
            "Ctrl-C stops.",
            flush=True,
        )
        await stop.wait()
    finally:
        await frontend.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    print("stopped", flush=True)
    return 0


async def _serve_plc(sim: Simulation, args: argparse.Namespace) -> int:
    from simulators.frontends.plc_server import PlcFrontend
    from simulators.plc_map import default_port

    model = sim.model
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    frontend = PlcFrontend(sim, args.protocol)
    port = args.port or default_port(model, args.protocol)
    try:
        await frontend.start(args.host, port)
    except OSError as exc:
        print(f"gerbang sim: cannot listen on {args.host}:{port}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # python-snap7 wraps a bind failure in its own S7ConnectionError
        print(f"gerbang sim: cannot listen on {args.host}:{port}: {exc}", file=sys.stderr)
        return 1
    what = "Siemens S7 (ISO-on-TCP)" if args.protocol == "s7" else "MELSEC MC protocol (3E binary)"
    units = ", ".join(f"{u.unit_id} {u.name}" for u in model.units)
    try:
        print(
            f"simulating {model.name} (units {units}) at speed ×{args.speed:g}, seed {args.seed}: "
            f"{what} on {args.host}:{frontend.port}\n"
            f"  gateway entry: gerbang sim config {model.name} --protocol {args.protocol} "
            f"--port {frontend.port}\n"
            f"  faults:        --fault {'|'.join(sim.known_faults())} at start\n"
            "Ctrl-C stops.",
            flush=True,
        )
        await stop.wait()
    finally:
        await frontend.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    print("stopped", flush=True)
    return 0


TRUTH_EVERY_S = 1.0
"""Real seconds between two writes of the `--truth` file."""


async def _write_truth(sim: Simulation, path: str) -> None:
    from simulators.oee import write_truth

    while True:
        write_truth(sim, path)
        await asyncio.sleep(TRUTH_EVERY_S)


async def _serve(sim: Simulation, args: argparse.Namespace) -> int:
    """Serve `sim` over the chosen protocol; with `--truth`, keep the truth file written."""
    if not args.truth:
        return await _serve_protocol(sim, args)
    from simulators.oee import write_truth

    task = asyncio.create_task(_write_truth(sim, args.truth), name="sim:truth")
    try:
        return await _serve_protocol(sim, args)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        write_truth(sim, args.truth)


async def _serve_protocol(sim: Simulation, args: argparse.Namespace) -> int:
    from simulators.frontends.modbus_server import ModbusFrontend, pty_pair

    if args.protocol == "opcua":
        return await _serve_opcua(sim, args)
    if args.protocol in PLC_PROTOCOLS:
        return await _serve_plc(sim, args)
    model = sim.model
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    frontend = ModbusFrontend(sim)
    units = ", ".join(f"{u.unit_id} {u.name}" for u in model.units)
    async with contextlib.AsyncExitStack() as stack:
        baudrate = args.baudrate or DEFAULT_BAUDRATE
        if args.protocol == "modbus-rtu":
            serial_port = args.serial_port
            client_port = serial_port
            if serial_port is None:
                serial_port, client_port = await stack.enter_async_context(pty_pair())
            await frontend.start_rtu(serial_port, baudrate)
            where = f"Modbus RTU on {serial_port} ({baudrate} 8N1)"
            endpoint = Endpoint("modbus-rtu", serial_port=client_port, baudrate=baudrate)
            print(f"serial device for clients: {client_port}", flush=True)
            first = model.units[0]
            probe = first.machine.signal(first.machine.probe)
            mbpoll = (
                f"mbpoll -m rtu -b {baudrate} -P none -a {first.unit_id} -t 3 "
                f"-r {probe.address + 1} -c 5 -1 {client_port}"
            )
        else:
            port = args.port or model.default_port
            try:
                await frontend.start_tcp(args.host, port)
            except OSError as exc:
                print(f"gerbang sim: cannot listen on {args.host}:{port}: {exc}", file=sys.stderr)
                return 1
            where = f"Modbus TCP on {args.host}:{port}"
            endpoint = Endpoint("modbus-tcp", args.host, port)
            first = model.units[0]
            probe = first.machine.signal(first.machine.probe)
            mbpoll = (
                f"mbpoll -m tcp -p {port} -a {first.unit_id} -t 3 -r {probe.address + 1} "
                f"-c 5 -1 {args.host}"
            )
        stack.push_async_callback(frontend.stop)
        print(
            f"simulating {model.name} (units {units}) at speed ×{args.speed:g}, seed {args.seed}: "
            f"{where}\n"
            f"  read it:       {mbpoll}\n"
            f"  gateway entry: gerbang sim config {model.name} --protocol {args.protocol}"
            + (f" --port {endpoint.port}" if endpoint.port else "")
            + (f" --serial-port {endpoint.serial_port}" if endpoint.serial_port else "")
            + f"\n  faults:        {', '.join(sim.known_faults())} (coils {FAULT_COIL_BASE}+, "
            f"see gerbang sim describe {model.name})\n"
            "Ctrl-C stops.",
            flush=True,
        )
        await stop.wait()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(signum)
    print("stopped", flush=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `gerbang sim ...` to the `gerbang` command line."""
    sim = sub.add_parser("sim", help="simulated factory machines (Modbus TCP/RTU, OPC UA)")
    simsub = sim.add_subparsers(dest="sim_command", required=True, metavar="SIM_COMMAND")

    listing = simsub.add_parser("list", help="list the machine models")
    listing.set_defaults(func=cmd_list)

    def common(p: argparse.ArgumentParser, host_help: str) -> None:
        p.add_argument("model", help="model name (see gerbang sim list)")
        p.add_argument("--protocol", choices=PROTOCOLS, default="modbus-tcp")
        p.add_argument("--host", default="127.0.0.1", help=f"{host_help} (default 127.0.0.1)")
        p.add_argument(
            "--port", type=int, help="TCP port (default: the model's, Modbus 5020+, OPC UA 4840+)"
        )
        p.add_argument("--serial-port", help="RTU: serial device (default: a new pty pair)")
        p.add_argument("--baudrate", type=int, help=f"RTU baud rate (default {DEFAULT_BAUDRATE})")

    run = simsub.add_parser("run", help="serve one model as a real Modbus or OPC UA server")
    common(run, "address the simulator listens on")
    run.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    run.add_argument("--speed", type=float, default=1.0, help="time acceleration, 1-60")
    run.add_argument("--fault", action="append", help="inject this fault at start (repeatable)")
    run.add_argument(
        "--fault-rate", type=float, default=0.0, help="random faults per simulated hour per unit"
    )
    run.add_argument(
        "--truth",
        metavar="FILE",
        help="keep FILE holding the simulator's own OEE figures (JSON, rewritten every second)",
    )
    run.set_defaults(func=cmd_run)

    config = simsub.add_parser("config", help="print the gateway devices: entry for a model")
    common(config, "address of the simulator, as the gateway will reach it")
    config.add_argument("--id", help="device id prefix (default: the model name)")
    config.add_argument("--full", action="store_true", help="print a whole config file")
    config.add_argument(
        "--mqtt-port", type=int, default=1883, help="with --full: the broker's port (1883)"
    )
    config.add_argument(
        "--oee", action="store_true", help="add each machine's oee: block and the site's"
    )
    config.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="with --oee: the simulator's --speed (the ideal cycle time is divided by it)",
    )
    config.set_defaults(func=cmd_config)

    desc = simsub.add_parser("describe", help="print the register map as Markdown")
    desc.add_argument("model", help="model name, or `all` for the index of every model")
    desc.set_defaults(func=cmd_describe)
