"""The one home of what is known about every device right now.

For each configured device: its `DeviceStatus` (kept up to date by its poller: state, polls,
errors, latency), its last published connection state, and the latest sample of every signal
(before the deadband). The pipeline writes the latest values and states as batches pass; the
API, the metrics, the web page's trends and the demo read them here and nowhere else.
Everything is plain data touched only from the event loop's thread, so no locks are needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from gateway.model import Sample, StateChange
from gateway.status import DeviceStatus


@dataclass(slots=True)
class DeviceEntry:
    """One device's live status, state and latest values."""

    status: DeviceStatus
    latest: dict[str, Sample] = field(default_factory=dict)
    """The latest sample of every signal, by signal name."""
    state: StateChange | None = None
    """The last connection state its poller published."""


class DeviceBoard:
    """Every configured device's entry, by id, in config order."""

    def __init__(self) -> None:
        self._entries: dict[str, DeviceEntry] = {}

    def add(self, device_id: str, protocol: str) -> DeviceEntry:
        """A fresh entry for a device that starts (replacing an older one of that id)."""
        entry = self._entries[device_id] = DeviceEntry(DeviceStatus(device_id, protocol))
        return entry

    def remove(self, device_id: str) -> None:
        """Forget a device that was removed from the config."""
        self._entries.pop(device_id, None)

    def get(self, device_id: str) -> DeviceEntry | None:
        """The entry of `device_id`, or None."""
        return self._entries.get(device_id)

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[tuple[str, DeviceEntry]]:
        """A snapshot of (id, entry) pairs, safe to iterate while devices come and go."""
        return list(self._entries.items())

    def statuses(self) -> list[DeviceStatus]:
        """Every device's status, in config order."""
        return [entry.status for entry in self._entries.values()]

    def latest(self, device_id: str) -> dict[str, Sample]:
        """The latest sample of each signal of `device_id` (empty when unknown or not read)."""
        entry = self._entries.get(device_id)
        return entry.latest if entry is not None else {}
