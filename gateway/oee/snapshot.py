"""The OEE state file: every machine's shift figures and counter baselines, written atomically.

A restart in the middle of a shift must keep the shift's figures (SPEC), and must neither count
the parts made before the restart twice nor lose those made while the gateway was down: both
need the counters' last readings. So the service writes one small JSON file (a few hundred
bytes per machine) at most every publish interval and at each shift end, through a temporary
file, fsync and rename, so that a power cut leaves the old file or the new one, never half.

A missing file is a first start; a damaged one is logged, kept aside as `.damaged`, and the
figures start again (the counters' next readings become their baselines).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT = 1
"""The file's format version; a file of another version is ignored (logged)."""


def write_snapshot(path: Path, devices: dict[str, Any]) -> None:
    """Replace `path` with the devices' snapshots, atomically and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    data = json.dumps({"format": FORMAT, "devices": devices}, separators=(",", ":"))
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself survives a power cut
    finally:
        os.close(fd)


def read_snapshot(path: Path) -> dict[str, Any]:
    """The devices' snapshots from `path`; empty when missing, damaged or of another format."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        log.warning("OEE state %s cannot be read (%s): figures start again", path, exc.strerror)
        return {}
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not format {FORMAT}")
        devices = data["devices"]
        if not isinstance(devices, dict):
            raise ValueError("no devices")
    except (ValueError, KeyError) as exc:
        aside = path.with_name(path.name + ".damaged")
        log.warning(
            "OEE state %s is damaged (%s): kept as %s, figures start again", path, exc, aside
        )
        os.replace(path, aside)
        return {}
    return devices
