"""Seeded randomness: one independent stream per machine, so runs repeat with `--seed`.

Each machine gets its own `random.Random` derived from the simulation seed and the machine's
name, so adding a machine to a model does not change the trajectories of the others.
"""

from __future__ import annotations

import hashlib
import random


def stream(seed: int, name: str) -> random.Random:
    """An independent generator for `name` under `seed` (stable across Python versions)."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))
