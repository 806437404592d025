"""The config file the gateway runs from, and the one way to change it at run time.

A `ConfigStore` is created once by `gerbang run` and injected into the HTTP API (no module-level
singleton). It holds the file's text as last loaded or written, the running `Config`, and the
same data as written (`${VAR}` references not filled), which the API shows with every secret
replaced by `"***"`.

A change (`prepare`, then `commit`) is validated exactly as `gerbang check` validates the file:
the new data is written out as YAML text and loaded back with the same loader, so messages,
paths and `${VAR}` handling are identical. A `"***"` sent back where a secret was keeps the
secret (a read-modify-write round trip), but only while the secret's destination (host, port,
url, endpoint, username beside it) stays as written: re-pointed, it must be given again.
`commit` writes atomically: a temporary file in the same folder, fsync, the previous file kept
as `FILE.bak`, rename, fsync of the folder.

Exceptions:

    Exception
     ├── ConfigError      (gateway.config.issues) the new config is invalid; nothing written
     └── ConfigConflict   the file changed since the caller read it (ETag); nothing written
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from .issues import ConfigError, ConfigIssue, format_path
from .limits import InputTooComplex, check_data
from .loader import load_config, load_config_apart, parse_config_text
from .models import Config
from .rules import Loc
from .source import YamlProblem, parse_yaml

MASK = "***"
SECRET_KEYS = frozenset({"password", "token", "sha256"})
"""Keys whose values are secrets wherever they appear (tests check every SecretStr is named)."""
DESTINATION_KEYS = ("host", "port", "url", "endpoint", "username")
"""Keys beside a secret that say where it is sent: `"***"` keeps a secret only while they stay
as they were, so that re-pointing mqtt.host (or a URL, an endpoint) at another listener never
hands it the current password. Checked as written (`${VAR}` references compared as text)."""
KEPT_WITHOUT_DESTINATION = frozenset({"sha256"})
"""Secrets that are never sent anywhere (a token's digest): `"***"` keeps them regardless."""
_REFERENCE_ONLY = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
"""A value that is only `${NAME}`: the name is no secret, so it is shown as written."""


class ConfigConflict(Exception):
    """The config changed since the caller read it: its ETag no longer matches."""


def mask_secrets(data: Any) -> Any:
    """A copy of config data with every secret replaced by `"***"` (`${NAME}` kept as written)."""
    if isinstance(data, dict):
        return {
            key: (
                _masked(value)
                if key in SECRET_KEYS and not isinstance(value, dict | list)
                else mask_secrets(value)
            )
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [mask_secrets(item) for item in data]
    return data


def _masked(value: object) -> object:
    if value is None or (isinstance(value, str) and _REFERENCE_ONLY.match(value)):
        return value
    return MASK


def _same_item(old: list[Any], index: int, item: object) -> object:
    """The element of `old` that `item` stands for: same `id`, else same `name`, else index."""
    if isinstance(item, dict):
        for key in ("id", "name"):
            if key in item:
                return next(
                    (o for o in old if isinstance(o, dict) and o.get(key) == item[key]), None
                )
    return old[index] if index < len(old) else None


def unmask_secrets(new: Any, old: Any, loc: Loc = ()) -> tuple[Any, list[tuple[Loc, str]]]:
    """`new` with each `"***"` secret replaced by the value at the same place in `old`.

    Returns the data and the places where `"***"` was sent but there is no secret to keep.
    """
    problems: list[tuple[Loc, str]] = []
    if isinstance(new, dict):
        out = {}
        for key, value in new.items():
            here = (*loc, key)
            previous = old.get(key) if isinstance(old, dict) else None
            if key in SECRET_KEYS and value == MASK:
                if previous is None or previous == MASK:
                    problems.append(
                        (
                            here,
                            f"'{MASK}' keeps the current secret, but there is none here: "
                            "give the value",
                        )
                    )
                elif key not in KEPT_WITHOUT_DESTINATION:
                    moved = _moved(new, old)
                    if moved:
                        problems.append((here, _moved_message(key, moved)))
                out[key] = previous
            elif (
                key in SECRET_KEYS
                and key not in KEPT_WITHOUT_DESTINATION
                and isinstance(value, str)
                and _REFERENCE_ONLY.match(value)
                and value == previous
                and _moved(new, old)
            ):
                # The same `${VAR}` as before is the same secret as "***": just as unsafe to
                # send to a listener the change just pointed it at.
                problems.append((here, _moved_message(key, _moved(new, old), value)))
                out[key] = value
            else:
                out[key], found = unmask_secrets(value, previous, here)
                problems += found
        return out, problems
    if isinstance(new, list):
        items = []
        for index, item in enumerate(new):
            previous = _same_item(old, index, item) if isinstance(old, list) else None
            value, found = unmask_secrets(item, previous, (*loc, index))
            items.append(value)
            problems += found
        return items, problems
    return new, problems


def _moved(new: dict[Any, Any], old: object) -> list[str]:
    """The destination keys whose written values differ between `new` and `old`."""
    before = old if isinstance(old, dict) else {}
    return [key for key in DESTINATION_KEYS if _as_text(new.get(key)) != _as_text(before.get(key))]


def _as_text(value: object) -> str | None:
    """A written value for comparison: `1883` and `"1883"` are the same port."""
    return None if value is None else str(value)


def _moved_message(key: str, moved: list[str], kept: str = MASK) -> str:
    changed = " and ".join(moved)
    verb = "changes" if len(moved) == 1 else "change"
    fix = (
        f"give the {key} again"
        if kept == MASK
        else f"give the {key} itself, or make this change in the file on the gateway"
    )
    return (
        f"'{kept}' keeps the current {key} only for the same destination, and {changed} "
        f"{verb} here: {fix} (the current one is not sent to a new listener)"
    )


def dump_yaml(data: object) -> str:
    """Config data as block-style YAML text (strings quoted where YAML needs it)."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def etag_of(text: str) -> str:
    """The ETag of a config text: a strong validator, quoted as HTTP wants it."""
    return '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'


@dataclass(frozen=True)
class Candidate:
    """A validated new config, ready to be written: its text and model."""

    text: str
    config: Config

    @property
    def raw(self) -> dict[str, Any]:
        """The data as written (`${VAR}` kept), parsed from the text."""
        return _raw(self.text)


class ConfigStore:
    """The running config and its file; `prepare` validates a change, `commit` writes it."""

    def __init__(
        self, path: Path, text: str, config: Config, env: Mapping[str, str] | None = None
    ) -> None:
        self.path = path
        self.env = os.environ if env is None else env
        self.text = text
        self.config = config
        self.etag = etag_of(text)

    @property
    def raw(self) -> dict[str, Any]:
        """The config as written (`${VAR}` kept), parsed from the text again at each call: only
        the API needs it, rarely, and a large config's plain data is not kept in memory."""
        return _raw(self.text)

    @classmethod
    def load(cls, path: str | Path, env: Mapping[str, str] | None = None) -> ConfigStore:
        """Read and validate the file (ConfigError as `gerbang check` reports it)."""
        path = Path(path)
        config = load_config_apart(path) if env is None else load_config(path, env)
        return cls(path, path.read_text(encoding="utf-8-sig"), config, env)

    def public(self) -> dict[str, Any]:
        """The running config as written, every secret replaced by `"***"`."""
        return mask_secrets(self.raw)

    def public_device(self, device_id: str) -> dict[str, Any] | None:
        """One device's entry as written, secrets masked; None when there is no such device."""
        device = _find_device(self.raw, device_id)
        return None if device is None else mask_secrets(device)

    def prepare(self, data: object) -> Candidate:
        """Validate new config data (`"***"` keeps a secret); raise ConfigError. Changes nothing."""
        if not isinstance(data, dict):
            raise ConfigError(
                [ConfigIssue(None, None, "", "expected a JSON object (version: 1, gateway: ...)")]
            )
        try:
            check_data(data)  # before anything below walks it recursively
        except InputTooComplex as exc:
            raise ConfigError([ConfigIssue(None, None, "", exc.message)]) from exc
        data, problems = unmask_secrets(data, self.raw)
        if problems:
            raise ConfigError([ConfigIssue(None, None, format_path(loc), m) for loc, m in problems])
        text = dump_yaml(data)
        try:
            config = parse_config_text(text, None, self.env)
        except ConfigError as exc:
            # Lines would point into text the caller never saw: paths say where.
            raise ConfigError(
                [ConfigIssue(None, None, i.path, i.message) for i in exc.issues]
            ) from None
        return Candidate(text, config)

    def with_device(self, device_id: str, device: object) -> dict[str, Any]:
        """The config data with device `device_id` replaced (or added when new) by `device`."""
        data = self.raw
        devices = data.setdefault("devices", [])
        if isinstance(device, dict):
            device = {"id": device_id, **device}
        for index, entry in enumerate(devices):
            if isinstance(entry, dict) and entry.get("id") == device_id:
                devices[index] = device
                break
        else:
            devices.append(device)
        return data

    def without_device(self, device_id: str) -> dict[str, Any]:
        """The config data with device `device_id` removed."""
        data = self.raw
        devices = data.get("devices") or []
        data["devices"] = [
            d for d in devices if not (isinstance(d, dict) and d.get("id") == device_id)
        ]
        return data

    def check_etag(self, if_match: str | None) -> None:
        """Raise ConfigConflict when `if_match` is not the current ETag or the file changed on
        disk since it was loaded (an edit by hand). No If-Match: only the file is checked."""
        if if_match is not None and if_match.strip() not in (self.etag, "*"):
            raise ConfigConflict(
                f"the config changed since you read it (ETag {self.etag}, If-Match {if_match}): "
                "read it again, reapply your change, and send the new ETag"
            )
        try:
            on_disk = self.path.read_text(encoding="utf-8-sig")
        except OSError:
            return
        if etag_of(on_disk) != self.etag:
            raise ConfigConflict(
                f"{self.path} was changed on disk since the gateway loaded it: restart the "
                "gateway (or undo the edit) before changing the config over HTTP"
            )

    def commit(self, candidate: Candidate) -> None:
        """Write `candidate` atomically, keeping the previous file as FILE.bak; then adopt it."""
        write_atomically(self.path, candidate.text)
        self.adopt(candidate)

    def adopt(self, candidate: Candidate) -> None:
        """Make `candidate` the running config (once its file was written)."""
        self.text = candidate.text
        self.config = candidate.config
        self.etag = etag_of(candidate.text)


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` by `text` so that a crash leaves the old or the new file, never half."""
    folder = path.parent
    tmp = folder / f".{path.name}.tmp-{os.getpid()}"
    mode = 0o640
    if path.exists():
        mode = path.stat().st_mode & 0o777
        backup_tmp = folder / f".{path.name}.bak.tmp-{os.getpid()}"
        shutil.copyfile(path, backup_tmp)
        os.chmod(backup_tmp, mode)
        _fsync_file(backup_tmp)
        os.replace(backup_tmp, path.with_name(path.name + ".bak"))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _raw(text: str) -> dict[str, Any]:
    try:
        data = parse_yaml(text, None).data
    except YamlProblem:
        return {}
    return data if isinstance(data, dict) else {}


def _find_device(raw: dict[str, Any], device_id: str) -> dict[str, Any] | None:
    for device in raw.get("devices") or []:
        if isinstance(device, dict) and device.get("id") == device_id:
            return device
    return None
