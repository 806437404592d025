"""`gerbang demo` as a user runs it: a child process that starts the simulators, a broker of its
own (on a free port here) and the gateway, shows the values it reads, and exits 0 on SIGINT."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from simulators.models import MODELS
from tests.support.modbus_server import free_port
from tests.support.mosquitto import Subscriber, mosquitto_binary
from tests.support.wait import eventually_sync

pytestmark = pytest.mark.integration


def test_demo_shows_values_and_exits_0_on_sigint(tmp_path) -> None:
    mosquitto_binary()  # skips without mosquitto
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "demo", "--duration", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "GERBANG_DEMO_MQTT_PORT": str(port),
            "GERBANG_DEMO_PORTS": "free",
            "PYTHONUNBUFFERED": "1",
            "COLUMNS": "200",
        },
        cwd=tmp_path,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    output: list[str] = []
    units = sum(len(model.units) for model in MODELS.values())
    seen = threading.Event()
    row_seen = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line.decode(errors="replace"))
            # A row of the live table: a device read, its machine state, a value with its unit;
            # then the summary line under the table.
            line = output[-1]
            if all(w in line for w in ("tofu-boiler", "steam_pressure", " bar")) and any(
                f" {state} " in line for state in ("setup", "idle", "running")
            ):
                row_seen.set()
            if row_seen.is_set() and f"{units}/{units} devices online" in line:
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert seen.wait(45), "no live values within 45 s:\n" + "".join(output)[-3000:]
        text = "".join(output)
        assert f"mosquitto_sub -h 127.0.0.1 -p {port} -t 'factory/#' -v" in text
        assert "mbpoll -m tcp" in text
        # The HTTP API answers, and the OPC UA machines are read over OPC UA.
        url = re.search(r"HTTP API: (http://127\.0\.0\.1:\d+/api/v1/status)", text)
        assert url is not None, text[-3000:]
        with urllib.request.urlopen(url.group(1), timeout=10) as response:
            status = json.loads(response.read())
        protocols = {d["id"]: d["protocol"] for d in status["devices"]}
        assert protocols["furnace-1"] == "opcua" and protocols["loom-1"] == "modbus-tcp"
        # The mixer is read as a Siemens S7 PLC, the tofu line as a MELSEC PLC (over MC).
        assert protocols["mixer-1"] == "s7", protocols
        assert protocols["tofu-boiler"] == protocols["tofu-grinder"] == "mc", protocols
        assert "Siemens S7 127.0.0.1:" in text and "MELSEC MC protocol" in text
        assert all(d["state"] == "online" for d in status["devices"]), status["devices"]
        # OEE moves: the machines that count parts have figures, and their run time grows.
        oee_url = url.group(1).replace("/status", "/oee")

        def run_times() -> dict[str, float]:
            with urllib.request.urlopen(oee_url, timeout=10) as response:
                body = json.loads(response.read())
            return {d["device"]: d["current"]["run_s"] for d in body["devices"] if d["current"]}

        first = run_times()
        assert "loom-1" in first and "tofu-grinder" in first and "tofu-boiler" not in first
        eventually_sync(
            lambda: any(run_times().get(d, 0) > first[d] for d in first),
            30,
            0.5,
            "OEE run time grows",
        )
        assert " OEE " in "".join(output), "the live table has an OEE column"
    finally:
        started = time.monotonic()
        # Ctrl-C on a terminal: SIGINT to the whole foreground process group, the demo's
        # mosquitto included.
        os.killpg(proc.pid, signal.SIGINT)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        reader.join(5)
        assert proc.stdout is not None
        proc.stdout.close()
    assert code == 0, "".join(output)[-3000:]
    assert time.monotonic() - started < 15
    text = "".join(output)
    assert "demo stopped" in text
    # Stopped in order: the gateway says goodbye to a broker that is still there.
    assert "connection lost" not in text, text[-3000:]
    assert "kept in the buffer" not in text, text[-3000:]


async def test_the_embedded_broker_where_mosquitto_is_missing() -> None:
    """amqtt's broker in the demo's process: the gateway's MQTT sink publishes through it."""
    from gateway.broker import EmbeddedBroker, local_broker
    from gateway.config.models import BufferConfig, GatewayIdentity, MqttConfig
    from gateway.model import GOOD, Batch, Sample
    from gateway.sinks.mqtt import MqttSink
    from tests.support.wait import eventually

    port = free_port()
    async with local_broker("127.0.0.1", port, use_mosquitto=False) as broker:
        assert isinstance(broker, EmbeddedBroker)
        # Our recording subscriber (paho) wants a broker's address, users and TLS.
        address = SimpleNamespace(host="127.0.0.1", port=port, users={}, tls=None)
        async with Subscriber(address, "factory/+/furnace-1/t") as sub:  # type: ignore[arg-type]
            await sub.ready()
            sink = MqttSink.open(
                MqttConfig(host="127.0.0.1", port=port),
                GatewayIdentity(id="demo", site="training"),
                "1.0",
                BufferConfig(path=str(Path(tempfile.mkdtemp()) / "buffer")),
                10_000_000,
            )
            task = asyncio.create_task(sink.run())
            try:
                sink.submit(Batch("furnace-1", 1, [Sample("t", 1450.5, GOOD, 1, "degC")]))
                await sub.wait_for(lambda: sub.messages, 20)
                await eventually(lambda: sink.status().delivered == 1)
            finally:
                await sink.close(deadline=2)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            assert sub.messages[0].json()["value"] == 1450.5
