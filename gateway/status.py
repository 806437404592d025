"""Live health of every device and sink, shared by the service, the logs and the HTTP API.

Adapters and sinks update their own entries; readers take snapshots. Everything here is plain
data updated from the event loop's thread, so no locks are needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.model import DeviceState


@dataclass(slots=True)
class DeviceStatus:
    """What `/api/v1/status` shows for one device (SPEC: state, last poll, polls ok/failed,
    last error, poll latency), plus the read plan's cost and per-signal errors."""

    id: str
    protocol: str
    state: DeviceState = DeviceState.OFFLINE
    last_poll: int | None = None
    """Time of the last successful scan, ms since the epoch."""
    polls_ok: int = 0
    polls_failed: int = 0
    last_error: str | None = None
    latency_ms: float | None = None
    """Duration of the last successful scan, from first request to last response."""
    requests_per_scan: int = 0
    min_requests_per_scan: int = 0
    signal_errors: dict[str, str] = field(default_factory=dict)
    """Signals that could not be read in the last scan, with the reason."""
    overruns: int = 0
    """Scans that took longer than the interval (the next one started late)."""

    def signal_summary(self) -> str | None:
        """`device D: signal S: why (and N more bad signals)`, or None when all are good."""
        errors = self.signal_errors
        if not errors:
            return None
        name, error = next(iter(errors.items()))
        more = len(errors) - 1
        return f"device {self.id}: signal {name}: {error}" + (
            f" (and {more} more bad signals)" if more else ""
        )
