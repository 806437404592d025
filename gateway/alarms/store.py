"""The alarm state file: what is active (or awaits acknowledgement) survives a restart.

Why: an alarm active before a restart must still be active after it, not raised a second time
(a second notification, a second acknowledgement). The state is small (outstanding alarms only)
and changes rarely, so it is one JSON file, rewritten whole and only when an alarm changes: an
SD card wears out with every write, so nothing is written per scan, nor when nothing changed.

A write is atomic: a temporary file beside it, flushed and fsynced, renamed over the old one,
then the directory fsynced, so a power cut leaves the old state or the new one, never half a
file. A file that cannot be read or parsed is logged and ignored (alarms start from normal):
alarms must keep working whatever the SD card did. A write that fails is logged once per run
of failures and retried at the next change; the engine keeps its state in memory meanwhile.

File format (`alarms.json`):

    {"version": 1, "alarms": {"<device>": {"<alarm>": {"active": true, "acknowledged": false,
     "acknowledged_by": null, "since": <ms>, "value": 1553.2}}}}
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILE_NAME = "alarms.json"
FORMAT_VERSION = 1


class AlarmStateFile:
    """Reads and atomically rewrites `alarms.json` in a state directory."""

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / FILE_NAME
        self._written: str | None = None  # the text on disk, to skip writes that change nothing
        self._failing = False
        self.writes = 0
        """Files written since start (for tests and status: the SD card's wear)."""

    def load(self) -> dict[str, Any]:
        """The saved alarms (`{device: {alarm: state}}`), or {} when there is nothing usable."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            log.error(
                "alarm state %s cannot be read (%s); alarms start from normal", self.path, exc
            )
            return {}
        try:
            data = json.loads(text)
        except ValueError as exc:
            log.error("alarm state %s is not JSON (%s); alarms start from normal", self.path, exc)
            return {}
        ours = isinstance(data, dict) and data.get("version") == FORMAT_VERSION
        alarms = data.get("alarms") if ours else None
        if not isinstance(alarms, dict):
            log.error(
                "alarm state %s is not version %d alarm state; alarms start from normal",
                self.path,
                FORMAT_VERSION,
            )
            return {}
        self._written = text
        return alarms

    def save(self, alarms: dict[str, Any]) -> bool:
        """Write the alarms if they differ from what is on disk; False when the write failed."""
        text = json.dumps(
            {"version": FORMAT_VERSION, "alarms": alarms}, separators=(",", ":"), sort_keys=True
        )
        if text == self._written:
            return True
        tmp = self.path.with_name(f".{FILE_NAME}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
            _fsync_dir(self.path.parent)
        except OSError as exc:
            if not self._failing:
                log.error(
                    "alarm state %s cannot be written (%s); alarms keep working, but a restart "
                    "now would forget them; retrying at the next change",
                    self.path,
                    exc,
                )
            else:
                log.debug("alarm state %s still cannot be written: %s", self.path, exc)
            self._failing = True
            return False
        if self._failing:
            log.warning("alarm state %s written again", self.path)
        self._failing = False
        self._written = text
        self.writes += 1
        return True


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (POSIX: the directory entry lives in the directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - a platform without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
