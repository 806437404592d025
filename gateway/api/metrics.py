"""GET /metrics: Prometheus text format, read from the live status objects at scrape time.

A custom collector (no per-value counters on the hot path): each scrape walks the devices' and
sinks' status, which the pollers and sinks keep anyway. Process memory and CPU come from
prometheus-client's own process collector (Linux /proc). The registry is per app, not global.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import accumulate
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from gateway.model import DeviceState
from gateway.status import LATENCY_BUCKETS_MS

if TYPE_CHECKING:
    from gateway.service import Gateway


class GatewayCollector(Collector):
    """Per device: polls, errors, state, scan latency; per sink: delivered, backlog, dropped."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def collect(self) -> Iterator[Metric]:
        gateway = self.gateway
        info = GaugeMetricFamily("gerbang_info", "This gateway", labels=["gateway", "version"])
        info.add_metric([gateway.config.gateway.id, gateway.version], 1)
        yield info
        uptime = GaugeMetricFamily("gerbang_uptime_seconds", "Seconds since the gateway started")
        uptime.add_metric([], _uptime(gateway))
        yield uptime

        label = ["device"]
        polls = CounterMetricFamily("gerbang_device_polls", "Successful scans", labels=label)
        failed = CounterMetricFamily("gerbang_device_poll_errors", "Failed scans", labels=label)
        signal_errors = GaugeMetricFamily(
            "gerbang_device_signal_errors", "Signals unreadable in the last scan", labels=label
        )
        online = GaugeMetricFamily(
            "gerbang_device_up", "1 while the device answers, else 0", labels=label
        )
        latency = HistogramMetricFamily(
            "gerbang_device_scan_latency_seconds", "Duration of successful scans", labels=label
        )
        bounds = [str(b / 1000) for b in LATENCY_BUCKETS_MS] + ["+Inf"]
        for status in gateway.board.statuses():
            device_id = status.id
            polls.add_metric([device_id], status.polls_ok)
            failed.add_metric([device_id], status.polls_failed)
            signal_errors.add_metric([device_id], len(status.signal_errors))
            online.add_metric([device_id], 1 if status.state is DeviceState.ONLINE else 0)
            cumulative = list(accumulate(status.latency_buckets))
            latency.add_metric(
                [device_id],
                buckets=list(zip(bounds, cumulative, strict=True)),
                sum_value=status.latency_sum_ms / 1000,
            )
        yield from (polls, failed, signal_errors, online, latency)

        label = ["sink"]
        delivered = CounterMetricFamily(
            "gerbang_sink_delivered", "Samples the peer acknowledged", labels=label
        )
        dropped = CounterMetricFamily(
            "gerbang_sink_dropped", "Samples dropped because the buffer was full", labels=label
        )
        rejected = CounterMetricFamily(
            "gerbang_sink_rejected", "Samples the peer refused for good", labels=label
        )
        backlog = GaugeMetricFamily(
            "gerbang_sink_backlog", "Samples waiting for delivery", labels=label
        )
        backlog_bytes = GaugeMetricFamily(
            "gerbang_sink_backlog_bytes", "Bytes waiting for delivery", labels=label
        )
        connected = GaugeMetricFamily(
            "gerbang_sink_connected", "1 while connected to the peer", labels=label
        )
        for sink in list(gateway.sinks):
            st = sink.status()
            delivered.add_metric([st.name], st.delivered)
            dropped.add_metric([st.name], st.dropped)
            rejected.add_metric([st.name], st.rejected)
            backlog.add_metric([st.name], st.backlog)
            backlog_bytes.add_metric([st.name], st.backlog_bytes)
            connected.add_metric([st.name], 1 if st.connected else 0)
        yield from (delivered, dropped, rejected, backlog, backlog_bytes, connected)


def _uptime(gateway: Gateway) -> float:
    return round(time.time() - gateway.started_at, 3)


def registry_for(gateway: Gateway) -> CollectorRegistry:
    """A registry with the gateway's collector and the process's memory and CPU."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(gateway))
    ProcessCollector(registry=registry)
    return registry
