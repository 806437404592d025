"""Live data for the web page: server-sent events (`GET /api/v1/events`) and short trends.

Why here and not in the pipeline: the page needs the status about once a second and each
signal's recent history, while the hot path must not pay for a page nobody has open. So:

- `Trends` keeps, per numeric signal, one point every `TREND_STEP_S` seconds over
  `TREND_POINTS` steps (10 minutes), sampled from the device board's latest values by one
  task: one pass over the latest samples every 5 s, no work per scan. Memory is bounded: one
  shared deque of timestamps plus one deque of floats per signal (about 4 KB per signal at most).
- `Live.stream` is one client's event stream: every `EVENT_PERIOD_S` a `status` event and a
  `values` event with the samples that changed since the last one (an identity check: the
  pipeline replaces a sample per scan); a `trend` event when a trend point was added. It runs
  only while that client is connected, and at most `MAX_CLIENTS` clients are served at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import orjson

from gateway.api import schemas
from gateway.model import Sample
from gateway.service import Gateway

TREND_STEP_S = 5.0
TREND_POINTS = 120
"""One point per 5 s over 10 minutes."""
EVENT_PERIOD_S = 1.0
MAX_CLIENTS = 8
"""Live pages served at once; the next one gets 503 (each costs one status build a second)."""


def status_of(gateway: Gateway) -> schemas.StatusOut:
    """GET /api/v1/status, built from the live status dataclasses."""
    devices = [
        schemas.DeviceStatusOut(
            id=s.id,
            protocol=s.protocol,
            state=s.state.value,
            last_poll=s.last_poll,
            polls_ok=s.polls_ok,
            polls_failed=s.polls_failed,
            last_error=s.last_error,
            latency_ms=s.latency_ms,
            requests_per_scan=s.requests_per_scan,
            overruns=s.overruns,
            signal_errors=dict(s.signal_errors),
        )
        for s in gateway.board.statuses()
    ]
    sinks = []
    for sink in list(gateway.sinks):
        st = sink.status()
        sinks.append(
            schemas.SinkStatusOut(
                name=st.name,
                connected=st.connected,
                backlog=st.backlog,
                backlog_bytes=st.backlog_bytes,
                delivered=st.delivered,
                dropped=st.dropped,
                rejected=st.rejected,
                last_error=st.last_error,
                buffer_errors=st.buffer_errors,
            )
        )
    return schemas.StatusOut(
        gateway_id=gateway.config.gateway.id,
        version=gateway.version,
        uptime_s=round(time.time() - gateway.started_at, 3),
        running=gateway.running,
        site=gateway.config.gateway.site,
        area=gateway.config.gateway.area,
        line=gateway.config.gateway.line,
        devices=devices,
        sinks=sinks,
        commands=None
        if gateway.commands is None
        else schemas.CommandsStatusOut(
            listening=gateway.commands.subscribed.is_set(),
            last_error=gateway.commands.last_error,
        ),
    )


def sample_out(sample: Sample) -> dict[str, Any]:
    """One sample as GET /api/v1/values shows it."""
    return {
        "value": sample.value,
        "quality": sample.quality.value,
        "ts": sample.ts,
        "unit": sample.unit,
        "error": sample.error,
    }


def _number(sample: Sample) -> float | None:
    value = sample.value
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and sample.quality.value != "bad":
        return float(value)
    return None


class Trends:
    """The last `points` values of every numeric signal, one every `step_s` seconds."""

    def __init__(self, gateway: Gateway, step_s: float = TREND_STEP_S, points: int = TREND_POINTS):
        self.gateway = gateway
        self.step_s = step_s
        self.points = points
        self.ts: deque[int] = deque(maxlen=points)
        """When each point was taken, ms since the epoch."""
        self.series: dict[tuple[str, str], deque[float | None]] = {}
        self.added = asyncio.Event()

    def sample(self) -> None:
        """Take one point of every signal (None where there is no number)."""
        self.ts.append(int(time.time() * 1000))
        seen = set()
        for device, entry in self.gateway.board.entries():
            for name, sample in list(entry.latest.items()):
                key = (device, name)
                seen.add(key)
                series = self.series.get(key)
                if series is None:
                    series = self.series[key] = deque(
                        [None] * (len(self.ts) - 1), maxlen=self.points
                    )
                series.append(_number(sample))
        for key in [k for k in self.series if k not in seen]:
            del self.series[key]  # a removed device or signal
        self.added.set()
        self.added = asyncio.Event()

    def last(self) -> dict[str, Any]:
        """The newest point of every signal: the `trend` event."""
        devices: dict[str, dict[str, float | None]] = {}
        for (device, name), series in self.series.items():
            devices.setdefault(device, {})[name] = series[-1] if series else None
        return {"ts": self.ts[-1] if self.ts else None, "devices": devices}

    def all(self) -> dict[str, Any]:
        """Every point kept: GET /api/v1/trends."""
        devices: dict[str, dict[str, list[float | None]]] = {}
        for (device, name), series in self.series.items():
            devices.setdefault(device, {})[name] = list(series)
        return {"step_s": self.step_s, "ts": list(self.ts), "devices": devices}

    async def run(self) -> None:
        """Sample every `step_s` until cancelled."""
        while True:
            self.sample()
            await asyncio.sleep(self.step_s)


def _event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class Live:
    """The event streams of one gateway's web pages, and its trends."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.trends = Trends(gateway)
        self.clients = 0
        self.closing = asyncio.Event()

    def full(self) -> bool:
        """Whether MAX_CLIENTS streams are admitted now."""
        return self.clients >= MAX_CLIENTS

    def admit(self) -> bool:
        """Take one of the MAX_CLIENTS places, or say False. Checked and taken in one step (no
        await between), so a burst of clients cannot all pass the check before any is counted;
        the caller must `release` it once the stream's response has ended, however it ended."""
        if self.full():
            return False
        self.clients += 1
        return True

    def release(self) -> None:
        """Give back a place taken by `admit`."""
        self.clients -= 1

    async def stream(self) -> AsyncIterator[bytes]:
        """One client's events until it hangs up or the server stops (its place taken by
        `admit` beforehand)."""
        sent: dict[str, dict[str, Sample]] = {}
        yield b"retry: 2000\n\n"
        yield _event("trends", self.trends.all())
        trend_added = self.trends.added
        while not self.closing.is_set():
            yield _event("status", status_of(self.gateway).model_dump())
            yield _event("values", {"devices": self._changed(sent)})
            if trend_added.is_set():
                trend_added = self.trends.added
                yield _event("trend", self.trends.last())
            closing = asyncio.ensure_future(self.closing.wait())
            try:
                await asyncio.wait({closing}, timeout=EVENT_PERIOD_S)
            finally:
                closing.cancel()

    def _changed(self, sent: dict[str, dict[str, Sample]]) -> dict[str, dict[str, Any]]:
        """Samples not sent to this client yet (all of them the first time)."""
        changed: dict[str, dict[str, Any]] = {}
        board = self.gateway.board
        for device, entry in board.entries():
            mine = sent.setdefault(device, {})
            for name, sample in list(entry.latest.items()):
                if mine.get(name) is not sample:
                    mine[name] = sample
                    changed.setdefault(device, {})[name] = sample_out(sample)
        for device in [d for d in sent if d not in board]:
            del sent[device]
        return changed
