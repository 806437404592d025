"""`gerbang sim` help says what --host means for each command: where `run` listens, and where
`config` tells the gateway to connect (not "address to bind")."""

from __future__ import annotations

import argparse

from gateway.cli import build_parser


def help_of(*command: str) -> str:
    parser = build_parser()
    for name in command:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return " ".join(parser.format_help().split())


def test_host_help_says_what_each_command_does_with_it() -> None:
    assert "--host HOST address the simulator listens on" in help_of("sim", "run")
    config = help_of("sim", "config")
    assert "--host HOST address of the simulator, as the gateway will reach it" in config
    assert "bind" not in config
