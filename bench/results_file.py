"""Where every benchmark writes its figures: bench/results/<name>.json, with machine and commit."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def save(name: str, results: dict[str, object]) -> Path:
    """Add the machine and the commit to `results` and write them as JSON."""
    python = platform.python_version()
    results["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {python}"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    )
    results["commit"] = commit.stdout.strip()
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path
