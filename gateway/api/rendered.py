"""The running config as the API shows it (secrets as "***"), rendered once per store revision.

Why: the store keeps only the file's text, and parsing it again is slow on a large config
(0.3-0.4 s for 4,000 signals on a Raspberry Pi-class box). A GET needs no token, so a reader
could stall the event loop (every device poll and sink) at will. Here the text is parsed,
masked and encoded in a worker thread, once per ETag, and every read after that is served
from memory. The worker composes with the pure-Python parser: the C one would hold the
interpreter, and so the loop, for the whole parse. A change makes a new ETag, so the next read
renders again; a lock makes concurrent readers of a new revision wait for one rendering instead
of each doing its own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.config.source import YamlProblem, parse_yaml
from gateway.config.store import ConfigStore, dump_yaml, mask_secrets
from gateway.offloop import bulk


@dataclass
class Rendering:
    """One revision of the config, shown: its ETag, the masked data and its JSON."""

    etag: str
    data: dict[str, Any]
    json: bytes
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each device's masked entry by id."""
    yaml: str | None = None
    """The masked data as YAML text, made at the first `?format=yaml`."""


def render(text: str, etag: str) -> Rendering:
    """Parse, mask and encode a config text (blocking: run it in a thread)."""
    try:
        raw = parse_yaml(text, None, pure=True).data  # pure: the loop keeps its turns
    except YamlProblem:
        raw = {}
    data = mask_secrets(raw) if isinstance(raw, dict) else {}
    devices = {
        d["id"]: d
        for d in data.get("devices") or []
        if isinstance(d, dict) and isinstance(d.get("id"), str)
    }
    return Rendering(etag, data, orjson.dumps(data), devices)


class RenderedConfig:
    """The shown config of one store, cached per ETag."""

    def __init__(self, store: ConfigStore) -> None:
        self.store = store
        self._current: Rendering | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Rendering:
        """The rendering of the running config (made in a thread when it changed)."""
        current = self._current
        if current is not None and current.etag == self.store.etag:
            return current
        async with self._lock:
            text, etag = self.store.text, self.store.etag
            if self._current is None or self._current.etag != etag:
                self._current = await bulk(lambda: render(text, etag))
            return self._current

    async def yaml(self) -> Rendering:
        """As `get`, with its YAML text made (in a thread) if it was not yet."""
        rendering = await self.get()
        if rendering.yaml is None:
            data = rendering.data
            rendering.yaml = await bulk(lambda: dump_yaml(data))
        return rendering
