"""The config-change service without HTTP: a change is written and applied, or nothing changes;
a failure while applying puts the previous file and config back; two changes never interleave."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.changes import ApplyFailed, ConfigChanges, WriteFailed
from gateway.config.issues import ConfigError
from gateway.config.models import Config
from gateway.config.store import ConfigConflict, ConfigStore
from gateway.service import Gateway, Reconciled

TEXT = """version: 1
gateway: {id: changes-test, site: pasuruan, area: casting}
mqtt: {enabled: false}
buffer: {path: BUFFER}
"""


class BrokenGateway(Gateway):
    """A gateway whose next `fail` reconciles raise, as a bug in a sink's restart would."""

    def __init__(self, config: Config, fail: int) -> None:
        super().__init__(config)
        self.fail = fail
        self.applied: list[str | None] = []

    async def reconcile(self, new: Config, deadline: float = 5.0) -> Reconciled:
        self.applied.append(new.gateway.area)
        if self.fail:
            self.fail -= 1
            raise RuntimeError("sink would not restart")
        return await super().reconcile(new, deadline)


def make_store(tmp_path: Path) -> ConfigStore:
    path = tmp_path / "gateway.yaml"
    path.write_text(TEXT.replace("BUFFER", str(tmp_path / "buffer")))
    return ConfigStore.load(path, {})


def with_area(store: ConfigStore, area: str) -> dict[str, object]:
    data = store.raw
    data["gateway"]["area"] = area
    return data


async def test_a_change_is_written_and_applied(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    gateway = BrokenGateway(store.config, fail=0)
    changes = ConfigChanges(gateway, store)
    old_etag = store.etag
    change = await changes.apply(lambda: with_area(store, "moulding"), old_etag)
    assert change.etag == store.etag != old_etag
    assert store.config.gateway.area == gateway.config.gateway.area == "moulding"
    assert "area: moulding" in store.path.read_text()
    assert change.restart_needed == []


async def test_invalid_and_stale_changes_change_nothing(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    before = store.path.read_text()
    changes = ConfigChanges(BrokenGateway(store.config, fail=0), store)
    with pytest.raises(ConfigError) as caught:
        await changes.apply(lambda: with_area(store, "Not An Id!") | {"mqtt": {"qos": 9}})
    assert {i.path for i in caught.value.issues} >= {"mqtt.qos"}
    with pytest.raises(ConfigConflict):
        await changes.apply(lambda: with_area(store, "moulding"), '"stale"')
    assert store.path.read_text() == before


async def test_a_failure_while_applying_restores_the_previous_config(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    before, etag, running = store.path.read_text(), store.etag, store.config
    gateway = BrokenGateway(store.config, fail=1)
    changes = ConfigChanges(gateway, store)
    with pytest.raises(ApplyFailed, match="previous config was restored"):
        await changes.apply(lambda: with_area(store, "moulding"))
    assert store.path.read_text() == before
    assert store.etag == etag and store.config is running
    assert gateway.applied == ["moulding", "casting"], "re-applied the previous config"
    assert gateway.config.gateway.area == "casting"


async def test_a_file_that_cannot_be_written_changes_nothing(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    running = store.config
    store.path = tmp_path / "gone" / "gateway.yaml"
    gateway = BrokenGateway(store.config, fail=0)
    with pytest.raises(WriteFailed, match="nothing was changed"):
        await ConfigChanges(gateway, store).apply(lambda: with_area(store, "moulding"))
    assert store.config is running and gateway.applied == []


async def test_two_changes_never_interleave(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    changes = ConfigChanges(BrokenGateway(store.config, fail=0), store)
    etag = store.etag
    results = await asyncio.gather(
        changes.apply(lambda: with_area(store, "moulding"), etag),
        changes.apply(lambda: with_area(store, "painting"), etag),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results].count("ConfigConflict") == 1
    assert store.config.gateway.area in ("moulding", "painting")
    assert f"area: {store.config.gateway.area}" in store.path.read_text()
