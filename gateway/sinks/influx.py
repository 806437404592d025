"""The InfluxDB sink: one point per device scan, written in batches, through the outbox.

Each batch is encoded once, at `submit`, into its line-protocol point (`lineproto`), and the
point goes into the sink's store-and-forward outbox, where it stays until InfluxDB answered 2xx
for a write that held it. The run task takes up to `batch_size` points, waiting at most
`flush_interval` for a batch to fill (a backlog is sent at once, in full batches), and POSTs
them as one body:

- `api: v2` through influxdb-client's synchronous write API (InfluxDB 2.x, 3.x, 1.8+ and
  VictoriaMetrics' `/api/v2/write`), the joined string as the body (0.14 µs a point);
- `api: v1` as a plain POST to `/write?db=&rp=&precision=ms` (InfluxDB 1.x, which is what
  Debian and Raspberry Pi OS ship: it has no `/api/v2/write`), with basic auth when set.

Both run in a worker thread, one request at a time, so the event loop never waits on HTTP.

Errors. Connection refused, timeouts, 5xx, 429, and also 401/403/404 (a wrong token or a missing
database: the technician fixes it, the data waits) are transient: the batch is taken again
after capped, jittered backoff. A 400 (or 413/422) means points the database will never take;
the batch is split in halves until the offending point stands alone, which is then counted in
`rejected`, logged with the server's reason (it names the field), and acknowledged, so it never
blocks the queue. Splitting resends good points a second time, which InfluxDB treats as the
same point (same series and timestamp): no duplicates appear.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import logging
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlencode

import urllib3

from gateway.backoff import Backoff
from gateway.buffer import Entry, Outbox, open_outbox
from gateway.config.models import BufferConfig, GatewayIdentity, InfluxConfig
from gateway.model import Batch, Report, StateChange
from gateway.sinks.base import CLOSE_FLUSH_SHARE, SinkBase, first_of
from gateway.sinks.lineproto import LineEncoder

log = logging.getLogger(__name__)

PERMANENT = frozenset({400, 413, 422})
"""HTTP statuses that refuse the points themselves: sending them again cannot succeed."""


@dataclass(slots=True, frozen=True)
class WriteResult:
    """What one write came to: ok, refused for good (the points), or failed for now."""

    ok: bool
    permanent: bool = False
    error: str | None = None


class InfluxWriter:
    """Blocking HTTP writes of line-protocol bodies; one instance per sink, used from a thread."""

    def __init__(self, config: InfluxConfig) -> None:
        self.config = config
        timeout_ms = int(config.timeout * 1000)
        self._v2 = None
        self._pool: urllib3.PoolManager | None = None
        if config.api == "v2":
            from influxdb_client import InfluxDBClient, WritePrecision
            from influxdb_client.client.write_api import SYNCHRONOUS

            token = config.token.get_secret_value() if config.token else ""
            self._client = InfluxDBClient(
                url=config.url,
                token=token,
                org=config.org or "",
                timeout=timeout_ms,
                enable_gzip=config.gzip,
            )
            self._v2 = self._client.write_api(write_options=SYNCHRONOUS)
            # influxdb-client declares its precision constants as plain str.
            self._precision = cast(WritePrecision, WritePrecision.MS)
        else:
            params = {"db": config.database or "", "precision": "ms"}
            if config.retention_policy:
                params["rp"] = config.retention_policy
            self._url = f"{config.url.rstrip('/')}/write?{urlencode(params)}"
            self._headers = {"Content-Type": "text/plain; charset=utf-8"}
            if config.username:
                password = config.password.get_secret_value() if config.password else ""
                raw = f"{config.username}:{password}".encode()
                self._headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
            if config.gzip:
                self._headers["Content-Encoding"] = "gzip"
            self._pool = urllib3.PoolManager(
                num_pools=1,
                maxsize=1,
                retries=False,
                timeout=urllib3.Timeout(total=config.timeout),
            )

    def write(self, body: str) -> WriteResult:
        """POST one body of points. Never raises for network or server errors."""
        try:
            if self._v2 is not None:
                return self._write_v2(body)
            return self._write_v1(body)
        except Exception as exc:  # urllib3's and influxdb-client's network errors
            return WriteResult(False, error=_describe(exc, self.config.url))

    def _write_v2(self, body: str) -> WriteResult:
        from influxdb_client.rest import ApiException

        assert self._v2 is not None, "api: v2 builds its write API in __init__"
        try:
            self._v2.write(
                bucket=self.config.bucket or "",
                org=self.config.org or "",
                record=body,
                write_precision=self._precision,
            )
        except ApiException as exc:
            return _status_result(exc.status or 0, _text(exc.body) or str(exc.reason))
        return WriteResult(True)

    def _write_v1(self, body: str) -> WriteResult:
        assert self._pool is not None
        data = body.encode()
        if self.config.gzip:
            data = gzip.compress(data, compresslevel=1)
        response = self._pool.request("POST", self._url, body=data, headers=self._headers)
        if 200 <= response.status < 300:
            return WriteResult(True)
        return _status_result(response.status, _text(response.data))

    def close(self) -> None:
        """Close the HTTP connections."""
        if self._v2 is not None:
            with contextlib.suppress(Exception):
                self._v2.close()
                self._client.close()
        if self._pool is not None:
            self._pool.clear()


def _text(body: object) -> str:
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    text = str(body or "").strip()
    return text[:500]


def _status_result(status: int, text: str) -> WriteResult:
    hints = {
        401: " (check influxdb.token, or username and password)",
        403: " (the token may not write to this bucket)",
        404: " (does the database or bucket exist? check influxdb.database / bucket / org)",
    }
    message = f"HTTP {status}: {text}{hints.get(status, '')}"
    return WriteResult(False, permanent=status in PERMANENT, error=message)


def _describe(exc: BaseException, url: str) -> str:
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    if "Connection refused" in text:
        return f"cannot connect to {url}: connection refused (is InfluxDB running there?)"
    if "timed out" in text.lower():
        return f"no answer from {url} in time"
    return f"cannot write to {url}: {text}"


class InfluxSink(SinkBase):
    """Writes one point per device scan to InfluxDB (SPEC "InfluxDB") through its outbox."""

    name = "influxdb"
    _log = log
    _failure_note = "; keeping the data in the buffer and retrying"

    def __init__(
        self,
        config: InfluxConfig,
        identity: GatewayIdentity,
        measurements: dict[str, str],
        outbox: Outbox[str],
        *,
        backoff: Backoff | None = None,
        unsigned: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        """`unsigned`: the (device, signal) pairs declared `uint64` (see `LineEncoder`)."""
        super().__init__(outbox, backoff)
        self.config = config
        self.encoder = LineEncoder(identity, measurements, unsigned, config.uint64)
        self.writer = InfluxWriter(config)
        self._full = asyncio.Event()
        self._reached = False
        """The last write reached the server."""

    @classmethod
    def open(
        cls,
        config: InfluxConfig,
        identity: GatewayIdentity,
        measurements: dict[str, str],
        buffer: BufferConfig,
        share: int,
        *,
        backoff: Backoff | None = None,
        unsigned: frozenset[tuple[str, str]] = frozenset(),
    ) -> InfluxSink:
        """A sink with its outbox in `{buffer.path}/influxdb`, at most `share` bytes, loaded
        with what a previous run left there."""
        outbox = open_outbox(buffer, cls.name, share, str.encode, bytes.decode)
        return cls(config, identity, measurements, outbox, backoff=backoff, unsigned=unsigned)

    @property
    def connected(self) -> bool:
        """The last write reached the server."""
        return self._reached

    # -- the pipeline's side --------------------------------------------------------------

    def submit(self, batch: Batch) -> None:
        """Encode the scan as a point and put it in the outbox (never blocks)."""
        encoded = self.encoder.line(batch)
        if encoded is None:
            return
        line, fields = encoded
        self.outbox.put(line, fields, len(line) + 1)
        if len(self.outbox) >= self.config.batch_size:
            self._full.set()

    def report(self, report: Report) -> None:
        """Write a report (an alarm change, OEE figures) as a point of its own measurement."""
        line = self.encoder.report_line(report)
        if line is not None:
            self.outbox.put(line, len(report.fields), len(line) + 1)
            if len(self.outbox) >= self.config.batch_size:
                self._full.set()

    def state_changed(self, change: StateChange) -> None:
        """Device states are not written to InfluxDB."""

    # -- the sink's task ------------------------------------------------------------------

    async def _serve(self) -> None:
        """Write batches until closed (the base's `run` flushes the outbox beside it)."""
        while not self._closing:
            await self._next_batch_ready()
            if self._closing:
                return
            self._idle.clear()
            try:
                ok = await self.send_some()
            finally:
                self._idle.set()
            if not ok:
                await self._pause(self._backoff.next_delay())

    async def _release(self) -> None:
        await asyncio.to_thread(self.writer.close)

    async def _next_batch_ready(self) -> None:
        """Wait for points, then up to `flush_interval` for a full batch (not with a backlog)."""
        await first_of(self.outbox.wait(), self._stopping.wait())
        if self._closing or len(self.outbox) >= self.config.batch_size:
            return
        self._full.clear()
        await first_of(self._full.wait(), self._stopping.wait(), timeout=self.config.flush_interval)

    async def send_some(self) -> bool:
        """Write one batch from the outbox. False when the server could not be reached."""
        entries = self.outbox.take(self.config.batch_size)
        if not entries:
            return True
        if await self._deliver(entries):
            self._succeeded()
            return True
        self.outbox.rewind()
        return False

    async def _deliver(self, entries: list[Entry[str]]) -> bool:
        """Write `entries`, splitting on a refusal until each bad point stands alone."""
        body = "\n".join(entry.item for entry in entries)
        result = await asyncio.to_thread(self.writer.write, body)
        if result.ok:
            for entry in entries:
                self.outbox.ack(entry)
                self.delivered += entry.samples
            return True
        if not result.permanent:
            self._failed(result.error or "write failed")
            return False
        if len(entries) > 1:
            half = len(entries) // 2
            return await self._deliver(entries[:half]) and await self._deliver(entries[half:])
        entry = entries[0]
        self.rejected += entry.samples
        self.outbox.ack(entry)
        log.error(
            "influxdb: the server refused a point, dropped (%d refused so far): %s; point: %.300s",
            self.rejected,
            result.error,
            entry.item,
        )
        return True

    def _succeeded(self) -> None:
        self._backoff.reset()
        down_for = self._outage.recovered()
        if not self._reached:
            if down_for is not None:
                log.warning(
                    "influxdb %s: writing again after %.0f s; %d samples waiting",
                    self.config.url,
                    down_for,
                    self.outbox.status().backlog,
                )
            else:
                log.info("influxdb %s: writing (api %s)", self.config.url, self.config.api)
        self._reached = True

    def _failed(self, error: str) -> None:
        super()._failed(error)
        self._reached = False

    # -- shutting down --------------------------------------------------------------------

    async def close(self, deadline: float = 5.0) -> None:
        """Write what is waiting while 70% of `deadline` lasts, then keep the rest on disk."""
        if not self._begin_close():
            return
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline * CLOSE_FLUSH_SHARE
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.1, end - loop.time())):
                await self._idle.wait()
                while self.connected and len(self.outbox) and loop.time() < end:
                    if not await self.send_some():
                        break
        self._finish_close()
