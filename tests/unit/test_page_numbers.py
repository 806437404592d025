"""The page shows a number as the gateway published it (51.3, 1.1, 1452.35), neither padded
nor cut (`show` in gateway/api/static/app.js, run in node)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "gateway" / "api" / "static" / "app.js"


def show_in_node(values: list[object]) -> list[str]:
    source = APP.read_text()
    match = re.search(r"^function show\(value\) \{\n.*?^\}\n", source, re.M | re.S)
    assert match, "function show not found in app.js"
    script = f"{match.group(0)}\nconsole.log(JSON.stringify({json.dumps(values)}.map(show)));"
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    done = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_numbers_are_shown_as_published() -> None:
    assert show_in_node([51.3, 1.1, 1452.35, 0.0125, 7, None, "PP-ABS", True]) == [
        "51.3",
        "1.1",
        "1452.35",
        "0.0125",
        "7",
        "—",
        "PP-ABS",
        "true",
    ]
