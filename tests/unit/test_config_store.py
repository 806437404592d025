"""The config store's pure parts (masking, "***" round trips, YAML written back, the atomic
write with its backup) and its validation, which must be `gerbang check`'s."""

from __future__ import annotations

import os
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

from gateway.config import models
from gateway.config.issues import ConfigError
from gateway.config.store import (
    MASK,
    SECRET_KEYS,
    ConfigConflict,
    ConfigStore,
    mask_secrets,
    unmask_secrets,
    write_atomically,
)

CONFIG = """\
version: 1
gateway: {id: casting-01}
api:
  tokens:
    - {name: technician, sha256: "%s"}
mqtt:
  host: ${BROKER:-127.0.0.1}
  password: ${MQTT_PASSWORD}
influxdb: {enabled: false, token: literal-token}
devices:
  - {id: furnace-1, protocol: modbus-tcp, host: 10.0.0.5,
     signals: [{name: t, table: holding, address: 0}]}
  - {id: roaster-1, protocol: opcua, endpoint: "opc.tcp://10.0.0.6:4840", password: op-pw,
     signals: [{name: drum, node: "ns=2;s=Drum"}]}
""" % ("a" * 64)
ENV = {"MQTT_PASSWORD": "hunter2"}


@pytest.fixture
def store(tmp_path: Path) -> ConfigStore:
    path = tmp_path / "gateway.yaml"
    path.write_text(CONFIG)
    return ConfigStore.load(path, ENV)


def _secret_fields(model: type[BaseModel]) -> set[str]:
    found = set()
    for name, field in model.model_fields.items():
        if "SecretStr" in str(field.annotation):
            found.add(name)
    return found


def test_every_secret_field_of_the_models_is_masked() -> None:
    secret = set()
    for value in vars(models).values():
        if isinstance(value, type) and issubclass(value, BaseModel):
            secret |= _secret_fields(value)
    assert secret and secret <= SECRET_KEYS
    assert typing.get_args(models.MqttConfig.model_fields["password"].annotation)[0] is SecretStr


def test_public_view_masks_secrets_and_keeps_references(store: ConfigStore) -> None:
    shown = store.public()
    assert shown["mqtt"]["password"] == "${MQTT_PASSWORD}", "a bare reference is no secret"
    assert shown["mqtt"]["host"] == "${BROKER:-127.0.0.1}"
    assert shown["influxdb"]["token"] == MASK
    assert shown["devices"][1]["password"] == MASK
    assert shown["api"]["tokens"][0]["sha256"] == MASK
    assert "hunter2" not in repr(shown) and "op-pw" not in repr(shown)
    assert store.config.mqtt.password.get_secret_value() == "hunter2"


def test_masked_round_trip_keeps_every_secret_even_when_devices_move(store: ConfigStore) -> None:
    shown = store.public()
    shown["devices"].reverse()
    candidate = store.prepare(shown)
    assert candidate.raw["devices"][0]["password"] == "op-pw"
    assert candidate.raw["influxdb"]["token"] == "literal-token"
    assert candidate.raw["api"]["tokens"][0]["sha256"] == "a" * 64
    assert candidate.config.mqtt.password.get_secret_value() == "hunter2"
    assert "${MQTT_PASSWORD}" in candidate.text and "hunter2" not in candidate.text


def test_mask_where_there_was_no_secret_is_an_error(store: ConfigStore) -> None:
    shown = store.public()
    shown["devices"][1]["id"] = "roaster-2"  # a new device: no password to keep
    with pytest.raises(ConfigError) as caught:
        store.prepare(shown)
    assert [issue.path for issue in caught.value.issues] == ["devices[1].password"]


def test_prepare_reports_what_gerbang_check_reports(store: ConfigStore) -> None:
    shown = store.public()
    shown["devices"][0]["interval"] = "60"
    shown["mqtt"]["password"] = "${UNSET_VARIABLE}"
    with pytest.raises(ConfigError) as caught:
        store.prepare(shown)
    issues = {issue.path: issue.message for issue in caught.value.issues}
    assert "did you mean '60s'" in issues["devices[0].interval"]
    assert "UNSET_VARIABLE is not set" in issues["mqtt.password"]
    assert all(issue.line is None for issue in caught.value.issues)


def test_conflict_on_stale_etag_and_on_a_hand_edit(store: ConfigStore) -> None:
    store.check_etag(store.etag)
    store.check_etag(None)
    with pytest.raises(ConfigConflict):
        store.check_etag('"stale"')
    store.path.write_text(CONFIG + "# edited by hand\n")
    with pytest.raises(ConfigConflict, match="changed on disk"):
        store.check_etag(store.etag)


def test_commit_writes_atomically_and_keeps_a_backup(store: ConfigStore) -> None:
    os.chmod(store.path, 0o600)
    shown = store.public()
    shown["devices"] = shown["devices"][:1]
    old_etag = store.etag
    store.commit(store.prepare(shown))
    assert store.etag != old_etag and len(store.config.devices) == 1
    assert store.path.with_name("gateway.yaml.bak").read_text() == CONFIG
    assert ConfigStore.load(store.path, ENV).config == store.config
    assert store.path.stat().st_mode & 0o777 == 0o600, "the file's mode is kept"
    assert [p.name for p in store.path.parent.iterdir() if p.name.startswith(".")] == []


def test_write_atomically_creates_a_missing_file(tmp_path: Path) -> None:
    write_atomically(tmp_path / "new.yaml", "version: 1\n")
    assert (tmp_path / "new.yaml").read_text() == "version: 1\n"
    assert not (tmp_path / "new.yaml.bak").exists()


plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["password", "token", "x", "y"]), inner, max_size=4)
    ),
    max_leaves=15,
)


@given(plain)
def test_masking_then_unmasking_restores_the_data(data: Any) -> None:
    restored, problems = unmask_secrets(mask_secrets(data), data)
    assert restored == data or problems, "only a secret that was '***' itself cannot come back"
