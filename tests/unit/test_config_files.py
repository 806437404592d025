"""Config files on disk: `load_config`, `gerbang check` (`check_main`) and the shipped examples."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.config.loader import ConfigError, check_main, load_config
from gateway.config.models import Config

EXAMPLES = sorted((Path(__file__).parents[2] / "config" / "examples").glob("*.yaml"))


def env_for(path: Path) -> dict[str, str]:
    """A value for every `${VAR}` the file names without a default."""
    names = re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", path.read_text(encoding="utf-8"))
    return {name: f"test-{name.lower()}" for name in names}


def test_there_are_examples() -> None:
    assert {p.name for p in EXAMPLES} >= {
        "modbus-tcp-furnace.yaml",
        "modbus-rtu-boiler.yaml",
        "looms-profile.yaml",
        "full-reference.yaml",
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_passes_check(path: Path) -> None:
    out = io.StringIO()
    assert check_main(path, out=out, env=env_for(path)) == 0, out.getvalue()
    assert re.fullmatch(
        rf"{re.escape(str(path))}: valid \(\d+ devices?, \d+ signals?\)\n", out.getvalue()
    )


def test_the_looms_example_reads_four_units_through_one_profile() -> None:
    path = next(p for p in EXAMPLES if p.name == "looms-profile.yaml")
    config = load_config(path, env={})
    assert [getattr(d, "unit", None) for d in config.devices] == [1, 2, 3, 4]
    # gerbang sim run loom listens on 5021
    assert {getattr(d, "link", None) for d in config.devices} == {"tcp://127.0.0.1:5021"}
    loom4 = config.devices[3]
    speed = next(s for s in loom4.signals if s.name == "speed_ppm")
    assert speed.deadband == 5
    assert len(loom4.signals) == len(config.devices[0].signals) + 1


def test_check_main_prints_every_error_and_returns_1(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(
        "version: 1\ngateway:\n  id: gw\nmqtt:\n  qos: 5\n  hots: x\n", encoding="utf-8"
    )
    out = io.StringIO()
    assert check_main(path, out=out, env={}) == 1
    assert out.getvalue().splitlines() == [
        f"{path}:5: mqtt.qos: 5 is not one of 0, 1, 2",
        f"{path}:6: mqtt.hots: unknown key 'hots'; did you mean 'host'?",
    ]


def test_check_main_counts_devices_and_signals(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(
        "version: 1\ngateway:\n  id: gw\ndevices:\n"
        "  - {id: d, protocol: modbus-tcp, host: h,\n"
        "     signals: [{name: a, table: coil, address: 0}]}\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    assert check_main(path, out=out, env={}) == 0
    assert out.getvalue() == f"{path}: valid (1 device, 1 signal)\n"


def test_check_main_uses_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text("version: 1\ngateway:\n  id: ${GW_ID}\n", encoding="utf-8")
    monkeypatch.delenv("GW_ID", raising=False)
    assert check_main(path) == 1
    assert "environment variable GW_ID is not set" in capsys.readouterr().out
    monkeypatch.setenv("GW_ID", "gw-7")
    assert check_main(path) == 0
    assert load_config(path).gateway.id == "gw-7"


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: no such file"
    out = io.StringIO()
    assert check_main(path, out=out) == 1
    assert out.getvalue() == f"{path}: no such file\n"


def test_a_directory_and_non_utf8_text_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"version: 1\ngateway:\n  id: caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}:3: not UTF-8 text (save the file as UTF-8)"


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfversion: 1\ngateway:\n  id: gw\n")
    assert load_config(path).gateway.id == "gw"


def test_the_model_alone_still_refuses_broken_rules() -> None:
    """Code that builds a Config directly (tests, the API) gets the same rules from pydantic."""
    data = {
        "version": 1,
        "gateway": {"id": "gw"},
        "devices": [
            {"id": "d", "protocol": "modbus-tcp", "host": "h"},
            {"id": "d", "protocol": "modbus-tcp", "host": "h", "profile": "x"},
        ],
    }
    with pytest.raises(ValidationError) as caught:
        Config.model_validate(data)
    text = str(caught.value)
    assert "devices.1.id: device id 'd' is used twice" in text
    assert "devices.1.profile: no profile 'x'" in text


def test_merging_is_stable_when_devices_are_reassigned() -> None:
    config = Config.model_validate(
        {
            "version": 1,
            "gateway": {"id": "gw"},
            "profiles": {"p": {"signals": [{"name": "a", "table": "input", "address": 0}]}},
            "devices": [{"id": "d", "protocol": "modbus-tcp", "host": "h", "profile": "p"}],
        }
    )
    config.devices = list(config.devices)
    assert [s.name for s in config.devices[0].signals] == ["a"]


LOAD_APART = """
import os, sys
from pathlib import Path
from gateway.config.loader import ConfigError, load_config, load_config_apart
forks = []
os.register_at_fork(after_in_parent=lambda: forks.append(1))
for name in sys.argv[1:]:
    try:
        apart = load_config_apart(Path(name))
    except ConfigError as exc:
        try:
            load_config(Path(name))
        except ConfigError as here:
            assert exc.issues == here.issues, (exc.issues, here.issues)
            print("same issues", len(exc.issues))
        continue
    assert apart == load_config(Path(name)), name
    print("same config", len(apart.devices))
print("forks", len(forks))
"""


def test_loading_apart_gives_the_same_config_and_the_same_issues(tmp_path: Path) -> None:
    """`load_config_apart` (a forked child parses, the process unpickles) agrees with
    `load_config` on every example and on an invalid file, and really forks."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ngateway:\n  id: gw\nmqtt:\n  qos: 5\n", encoding="utf-8")
    env = {k: v for path in EXAMPLES for k, v in env_for(path).items()}
    done = subprocess.run(
        [sys.executable, "-c", LOAD_APART, *map(str, EXAMPLES), str(bad)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=Path(__file__).parents[2],
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len([line for line in lines if line.startswith("same config")]) == len(EXAMPLES)
    assert "same issues 1" in lines
    assert lines[-1] == f"forks {len(EXAMPLES) + 1}"
