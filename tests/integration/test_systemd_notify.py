"""systemd's side of `gerbang run`: the notify protocol on a real datagram socket.

The gateway runs as a real process (as systemd starts it, with NOTIFY_SOCKET and WATCHDOG_USEC)
and polls a real Modbus server; the test is the service manager: it waits for READY=1, times
the WATCHDOG=1 pings, reads STATUS=, sends SIGTERM and expects STOPPING=1 and exit 0.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.modbus_server import RegisterBank, bank_server
from tests.support.notify import NotifyListener, deny_write_execute

pytestmark = pytest.mark.integration

GERBANG = [sys.executable, "-m", "gateway.cli"]
WATCHDOG_SEC = 1.0


def write_config(path: Path, port: int) -> Path:
    path.write_text(
        "version: 1\n"
        "gateway: {id: casting-01}\n"
        "mqtt: {enabled: false}\n"
        "devices:\n"
        f"  - {{id: furnace-1, protocol: modbus-tcp, host: 127.0.0.1, port: {port},\n"
        "     interval: 200ms, signals: [{name: t, table: holding, address: 0}]}\n"
    )
    return path


async def spawn(config: Path, env: dict[str, str], **kwargs: object) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *GERBANG,
        "run",
        "-c",
        str(config),
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("hardened", [False, True], ids=["plain", "memory-deny-write-execute"])
async def test_ready_watchdog_status_stopping_and_exit_0(tmp_path: Path, hardened: bool) -> None:
    bank = RegisterBank()
    bank.set("holding", 0, [1452])
    extra: dict[str, object] = {"preexec_fn": deny_write_execute} if hardened else {}
    async with bank_server({1: bank}) as server:
        config = write_config(tmp_path / "gateway.yaml", server.port)
        with NotifyListener() as systemd:
            env = {**systemd.env, "WATCHDOG_USEC": str(int(WATCHDOG_SEC * 1_000_000))}
            try:
                proc = await spawn(config, env, **extra)
            except subprocess.SubprocessError:
                pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3+)")
            try:
                ready = await systemd.wait_for("READY", timeout=30)
                assert ready.get("READY") == "1"
                assert "devices online" in (ready.get("STATUS") or ""), ready
                assert systemd.with_key("WATCHDOG"), "the watchdog pings start before READY"

                # The summary follows the device: online once it has been polled.
                await systemd.wait_for("STATUS", "1/1 devices online", timeout=10)

                pings = [n.at for n in systemd.with_key("WATCHDOG") if n.at >= ready.at]
                while len(pings) < 6:
                    note = await systemd.wait_for("WATCHDOG", timeout=2 * WATCHDOG_SEC)
                    pings.append(note.at)
                gaps = [b - a for a, b in itertools.pairwise(pings)]
                # Half of WatchdogSec on average; never as late as WatchdogSec itself.
                assert 0.35 < statistics.mean(gaps) < 0.7, gaps
                assert max(gaps) < WATCHDOG_SEC, gaps

                proc.send_signal(signal.SIGTERM)
                stopping = await systemd.wait_for("STOPPING", timeout=5)
                assert stopping.get("STOPPING") == "1"
                _, stderr = await asyncio.wait_for(proc.communicate(), timeout=20)
                assert proc.returncode == 0, stderr.decode()[-2000:]
                assert b"stopped" in stderr
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()


async def test_no_watchdog_pings_for_another_pid(tmp_path: Path) -> None:
    """WATCHDOG_PID names the process systemd watches; a child that inherited it stays quiet."""
    async with bank_server({1: RegisterBank()}) as server:
        config = write_config(tmp_path / "gateway.yaml", server.port)
        with NotifyListener() as systemd:
            env = {**systemd.env, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"}
            proc = await spawn(config, env)
            try:
                await systemd.wait_for("READY", timeout=30)
                proc.send_signal(signal.SIGTERM)
                await systemd.wait_for("STOPPING", timeout=5)
                await asyncio.wait_for(proc.communicate(), timeout=20)
                assert proc.returncode == 0
                assert not [n for n in systemd.drain() if "WATCHDOG" in n.fields]
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()


async def test_bad_config_exits_78_without_ready(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text("version: 1\ngateway: {id: Casting 01}\n")
    with NotifyListener() as systemd:
        proc = await spawn(config, {**systemd.env, "WATCHDOG_USEC": "1000000"})
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 78, stderr.decode()
        assert "gateway.id" in stderr.decode()
        assert not [n for n in systemd.drain() if "READY" in n.fields]


def unit_environment() -> dict[str, str]:
    """The Environment= of deploy/systemd/gerbang.service."""
    unit = (Path(__file__).resolve().parents[2] / "deploy/systemd/gerbang.service").read_text()
    line = next(x for x in unit.splitlines() if x.startswith("Environment="))
    return dict(word.split("=", 1) for word in line.removeprefix("Environment=").split())


async def test_watchdog_abort_leaves_a_traceback_in_the_journal(tmp_path: Path) -> None:
    """systemd kills a gateway whose pings stopped with SIGABRT; with the unit's Environment=
    the process first writes every thread's traceback to stderr (the journal)."""
    unit_env = unit_environment()
    assert unit_env.get("PYTHONFAULTHANDLER") == "1"
    async with bank_server({1: RegisterBank()}) as server:
        config = write_config(tmp_path / "gateway.yaml", server.port)
        with NotifyListener() as systemd:
            proc = await spawn(config, {**systemd.env, **unit_env})
            try:
                await systemd.wait_for("READY", timeout=30)
                proc.send_signal(signal.SIGABRT)  # what systemd sends on a watchdog timeout
                _, stderr = await asyncio.wait_for(proc.communicate(), timeout=20)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
    assert proc.returncode == -signal.SIGABRT
    text = stderr.decode()
    assert "Fatal Python error: Aborted" in text, text[-2000:]
    assert 'File "' in text and "asyncio" in text, text[-2000:]
