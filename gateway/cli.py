"""The `gerbang` command: run, check, demo, sim, token, version (SPEC "Commands").

Exit codes: 0 success; 1 `check` found errors; 78 (EX_CONFIG) `run` was given an invalid config,
which the systemd unit lists in RestartPreventExitStatus so a bad config does not restart-loop.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from gateway import __version__

EX_CONFIG = 78
DEFAULT_CONFIG = "/etc/gerbang/gateway.yaml"


def config_path(arg: str | None) -> Path:
    """The config file: `-c`, then `$GERBANG_CONFIG`, then /etc/gerbang/gateway.yaml."""
    return Path(arg or os.environ.get("GERBANG_CONFIG") or DEFAULT_CONFIG)


def setup_logging(level: str) -> None:
    """One line per event on stderr (journald adds the time when run by systemd)."""
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=level.upper(), format=fmt, stream=sys.stderr, force=True)
    # pymodbus logs every unanswered request at error level; our pollers report once per episode.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL if level != "debug" else logging.DEBUG)
    # asyncua logs every failed probe and teardown with a traceback; our poller reports once.
    logging.getLogger("asyncua").setLevel(logging.CRITICAL if level != "debug" else logging.INFO)


def cmd_run(args: argparse.Namespace) -> int:
    """`gerbang run`: load the config and run the gateway until SIGTERM/SIGINT."""
    from gateway.api.server import serve_api
    from gateway.config.loader import ConfigError
    from gateway.config.store import ConfigStore
    from gateway.runner import run_gateway

    path = config_path(args.config)
    try:
        store = ConfigStore.load(path)
    except ConfigError as exc:
        print(f"gerbang: invalid config {path}:", file=sys.stderr)
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return EX_CONFIG
    setup_logging("debug" if args.verbose else store.config.gateway.log_level)
    return asyncio.run(
        run_gateway(store.config, path, api=lambda gateway: serve_api(gateway, store))
    )


def cmd_check(args: argparse.Namespace) -> int:
    """`gerbang check`: validate a config; every error on its own line; exit 0 or 1."""
    from gateway.config.loader import check_main

    return check_main(config_path(args.config))


def cmd_demo(args: argparse.Namespace) -> int:
    """`gerbang demo`: simulators, a broker, the gateway, and live values, in one command."""
    from gateway.demo import run_demo

    setup_logging("debug" if args.verbose else "warning")
    return asyncio.run(run_demo(args))


def cmd_token_new(args: argparse.Namespace) -> int:
    """`gerbang token new`: a random API token, and the `api.tokens` line with its sha256."""
    from gateway.api.auth import new_token, yaml_line

    token = new_token()
    print(f"token (give it to the user; it is shown only once): {token}")
    print("add this line under api.tokens in the config (only the sha256 is stored):")
    print(f"    {yaml_line(token, args.name)}")
    return 0


def cmd_version(_args: argparse.Namespace) -> int:
    """`gerbang version`."""
    print(f"gerbang {__version__}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="gerbang", description="Telemetry gateway: Modbus and OPC UA to MQTT and InfluxDB."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the gateway in the foreground")
    run.add_argument(
        "-c", "--config", help=f"config file (default $GERBANG_CONFIG or {DEFAULT_CONFIG})"
    )
    run.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check", help="validate a config file without running it")
    check.add_argument(
        "-c", "--config", help=f"config file (default $GERBANG_CONFIG or {DEFAULT_CONFIG})"
    )
    check.set_defaults(func=cmd_check)

    demo = sub.add_parser("demo", help="simulated machines, a broker and the gateway, live")
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    demo.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    demo.set_defaults(func=cmd_demo)

    from gateway.protocols import register_commands

    register_commands(sub)

    try:
        from simulators.cli import register
    except ImportError:  # the simulators are optional at import time only while being built
        pass
    else:
        register(sub)

    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    token_new = token_sub.add_parser("new", help="print a new random token and its config line")
    token_new.add_argument(
        "--name", default="technician", help="who uses it (the name in api.tokens and the log)"
    )
    token_new.set_defaults(func=cmd_token_new)

    version = sub.add_parser("version", help="print the version")
    version.set_defaults(func=cmd_version)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `gerbang` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        # The reader went away (`gerbang opcua browse ... | head`): not an error. Point stdout
        # at /dev/null so that Python's final flush does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
