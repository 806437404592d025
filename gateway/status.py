"""Live health of every device and sink, shared by the service, the logs and the HTTP API.

Adapters and sinks update their own entries; readers take snapshots. Everything here is plain
data updated from the event loop's thread, so no locks are needed.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from gateway.model import DeviceState

LATENCY_BUCKETS_MS: tuple[float, ...] = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)
"""Upper bounds of the scan latency histogram (ms) shown by /metrics; one more bucket: +Inf."""


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
    latency_buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    """Successful scans by latency, one count per bucket of LATENCY_BUCKETS_MS, then +Inf."""
    latency_sum_ms: float = 0.0

    def observe_latency(self, latency_ms: float) -> None:
        """Count one successful scan in the latency histogram (once per scan, not per value)."""
        self.latency_buckets[bisect_left(LATENCY_BUCKETS_MS, latency_ms)] += 1
        self.latency_sum_ms += latency_ms

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
