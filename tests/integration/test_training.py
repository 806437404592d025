"""Every training lesson in docs/training runs as written, so that lessons never rot.

Each lesson's `sh` code blocks run in order with `bash -e` in an empty folder; the ports it
names (Modbus 5020-5029, MQTT 1883, OPC UA 4840-4849, the HTTP API 8080, InfluxDB 8086 and
8088) become free ones; every `<!-- check: TEXT -->` must appear in the output
(whitespace-normalised). The English and Indonesian versions of a lesson must have the same
commands and checks, so running one runs both.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.modbus_server import free_port

pytestmark = pytest.mark.integration

TRAINING = Path(__file__).resolve().parents[2] / "docs" / "training"
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
CHECK = re.compile(r"<!-- check: (.*?) -->")
PORT = re.compile(r"\b(50[2][0-9]|1883|484[0-9]|8080|8086|8088)\b")


def lesson(lang: str, number: str) -> Path:
    found = sorted((TRAINING / lang).glob(f"{number}-*.md"))
    assert len(found) == 1, f"expected one {lang} lesson {number}, found {found}"
    return found[0]


NUMBERS = sorted({p.name[:2] for p in (TRAINING / "en").glob("[0-9][0-9]-*.md")})


def squash(text: str) -> str:
    return " ".join(text.split())


def test_every_lesson_exists_in_both_languages_and_in_the_index() -> None:
    assert len(NUMBERS) >= 4
    index = (TRAINING / "README.md").read_text()
    for number in NUMBERS:
        for lang in ("en", "id"):
            assert f"({lang}/{lesson(lang, number).name})" in index


@pytest.mark.parametrize("number", NUMBERS)
def test_lesson_runs_as_written(number, tmp_path) -> None:
    en, id_ = lesson("en", number), lesson("id", number)
    blocks = BLOCK.findall(en.read_text())
    checks = CHECK.findall(en.read_text())
    assert blocks, f"{en} has no sh blocks"
    assert blocks == BLOCK.findall(id_.read_text()), f"{id_} has other commands than {en}"
    assert checks == CHECK.findall(id_.read_text()), f"{id_} has other checks than {en}"
    ports: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        return ports.setdefault(match.group(1), str(free_port()))

    script = PORT.sub(replace, "\n".join(blocks))
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}:/usr/sbin"}
    out_file = tmp_path / "output.txt"
    with out_file.open("wb") as out:
        proc = subprocess.Popen(
            ["bash", "-e", "-c", script],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=90)
        finally:
            with contextlib.suppress(ProcessLookupError):  # jobs the lesson left running
                os.killpg(proc.pid, signal.SIGTERM)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    output = out_file.read_text(errors="replace")
    assert code == 0, f"lesson {en.name} failed ({code}):\n{script}\n---\n{output[-4000:]}"
    for check in checks:
        assert squash(PORT.sub(replace, check)) in squash(output), (
            f"lesson {en.name}: {check!r} not in the output:\n{output[-4000:]}"
        )
