"""Load and validate a gateway config: file, YAML text or already-parsed JSON, every error at once.

The one entry point for config, whatever its source: `gerbang run` and `gerbang check` read a
file, the HTTP API validates JSON. Each failure is a `ConfigError` listing every problem as
`FILE:LINE: path: message`, sorted by line:

- the file cannot be read, or is not YAML (the line YAML gives);
- `${VAR}` names an unset variable (the line of the value);
- a field is invalid (pydantic's errors, rewritten by `messages`);
- a file-wide rule is broken (`rules.reference_issues`: duplicate ids, unknown profiles, ...),
  also reported when other fields are invalid, so that one run shows everything.
"""

from __future__ import annotations

import os
import pickle
import re
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from .issues import ConfigError, ConfigIssue, format_path, sorted_issues
from .limits import InputTooComplex, check_data
from .messages import translate, without_explained_missing
from .models import Config
from .rules import RULE_ERROR, Loc, reference_issues
from .source import Document, YamlProblem, parse_yaml

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "check_main",
    "load_config",
    "load_config_apart",
    "parse_config_text",
    "validate_data",
]


def _check(data: object) -> tuple[Config | None, list[tuple[Loc, str]]]:
    """The config, or every problem of plain config data as (location, message)."""
    if not isinstance(data, Mapping):
        shown = "an empty file" if data is None else f"a {type(data).__name__}"
        return None, [((), f"expected a mapping (version: 1, gateway:, devices: ...), got {shown}")]
    try:
        return Config.model_validate(data), []
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        found = without_explained_missing(
            [pair for error in errors for pair in translate(error, data)]
        )
        if not any(error["type"] == RULE_ERROR and not error["loc"] for error in errors):
            # Config checks the file-wide rules only when every field is valid: check them here.
            found += reference_issues(data.get("profiles"), data.get("devices"))
        return None, found


def _validate(data: object, doc: Document | None, filename: str | None) -> Config:
    config, problems = _check(data)
    if doc is not None:
        env_locs = [loc for loc, _ in doc.env_problems]
        # A value with an unset variable fails validation too; its variable is the news.
        problems = [
            (loc, message)
            for loc, message in problems
            if not any(loc[: len(env_loc)] == env_loc for env_loc in env_locs)
        ]
        problems = doc.env_problems + [
            (loc, _as_written(message, loc, doc.filled)) for loc, message in problems
        ]
    if problems:
        raise ConfigError(
            sorted_issues(
                ConfigIssue(
                    filename,
                    doc.line_of(loc) if doc is not None else None,
                    format_path(loc),
                    message,
                )
                for loc, message in problems
            )
        )
    assert config is not None  # no problems means the model validated
    return config


def _as_written(message: str, loc: Loc, filled: Mapping[Loc, tuple[str, str]]) -> str:
    """`message` with each value `${VAR}` filled in at or around `loc` shown as written.

    Longest value first; a value under 4 characters only as a whole word (a value `5` leaves
    `65535` alone; so short a value is no secret anyway).
    """
    if not filled:
        return message
    near = [
        pair
        for where, pair in filled.items()
        if where[: len(loc)] == loc or loc[: len(where)] == where
    ]
    for value, written in sorted(near, key=lambda pair: -len(pair[0])):
        if len(value) >= 4:
            message = message.replace(value, written)
        elif value:
            message = re.sub(
                rf"(?<![A-Za-z0-9_]){re.escape(value)}(?![A-Za-z0-9_])",
                written.replace("\\", "\\\\"),  # a replacement template: keep "\\" literal
                message,
            )
    return message


def parse_config_text(
    text: str, filename: str | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Parse and validate YAML config text; `filename` only names it in issues.

    `env` defaults to the process environment. Raises ConfigError.
    """
    try:
        doc = parse_yaml(text, os.environ if env is None else env)
    except YamlProblem as exc:
        raise ConfigError([ConfigIssue(filename, exc.line, "", exc.message)]) from exc
    return _validate(doc.data, doc, filename)


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Read, parse and validate a config file. Raises ConfigError, also when it cannot be read."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ConfigError([ConfigIssue(name, None, "", "no such file")]) from exc
    except IsADirectoryError as exc:
        raise ConfigError([ConfigIssue(name, None, "", "is a directory, not a file")]) from exc
    except PermissionError as exc:
        raise ConfigError(
            [ConfigIssue(name, None, "", "permission denied: the gateway cannot read it")]
        ) from exc
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(
            [ConfigIssue(name, line, "", "not UTF-8 text (save the file as UTF-8)")]
        ) from exc
    except OSError as exc:
        raise ConfigError([ConfigIssue(name, None, "", f"cannot read: {exc.strerror}")]) from exc
    return parse_config_text(text, name, env)


def load_config_apart(path: str | Path) -> Config:
    """`load_config` in a forked child process, which sends the validated config back pickled.

    Why: parsing YAML makes hundreds of thousands of short-lived objects among the few that
    stay, and CPython cannot give the half-empty memory pages back to the system. Measured with
    5,000 inline signals, the gateway kept 22 MB for a config of 6 MB (500 devices: 193 MB),
    for as long as it ran; loaded apart, it keeps what it unpickles. Only at start-up, while
    the process has one thread (a fork with threads running is unsafe): otherwise, and where
    the child fails for any other reason than the config, it loads here as `load_config`.
    The environment is this process's (the child inherits it).
    """
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return load_config(path)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 1
        try:
            os.close(read_end)
            try:
                outcome: Config | ConfigError = load_config(path)
            except ConfigError as exc:
                outcome = exc
            with os.fdopen(write_end, "wb") as out:
                pickle.dump(outcome, out, protocol=pickle.HIGHEST_PROTOCOL)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        raw = pipe.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not raw:
        return load_config(path)
    outcome = pickle.loads(raw)  # our own child's bytes, through our own pipe
    if isinstance(outcome, ConfigError):
        raise outcome
    return outcome


def validate_data(data: object) -> Config:
    """Validate already-parsed data (JSON from the HTTP API): the same messages, no lines.

    No `${VAR}` substitution: that belongs to files. Data nested deeper than
    `limits.MAX_DEPTH` is refused before it is walked. Raises ConfigError.
    """
    try:
        check_data(data)
    except InputTooComplex as exc:
        raise ConfigError([ConfigIssue(None, None, "", exc.message)]) from exc
    return _validate(data, None, None)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def check_main(
    path: str | Path, out: TextIO | None = None, env: Mapping[str, str] | None = None
) -> int:
    """`gerbang check`: print every problem as `FILE:LINE: path: message`; 0 if valid, else 1.

    A valid file prints one line: `FILE: valid (3 devices, 42 signals)`.
    """
    out = sys.stdout if out is None else out
    try:
        config = load_config(path, env)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=out)
        return 1
    signals = sum(len(device.signals) for device in config.devices)
    print(
        f"{path}: valid ({_count(len(config.devices), 'device')}, {_count(signals, 'signal')})",
        file=out,
    )
    return 0
